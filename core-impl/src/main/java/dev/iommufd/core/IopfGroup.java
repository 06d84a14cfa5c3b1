package dev.iommufd.core;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.PageResponse;
import java.util.List;

/**
 * A page request group ({@code struct iopf_group}): the requests of one device with one {@code grpid}, the last
 * carrying LAST_PAGE, delivered together and answered with one response.
 *
 * @param device the reporting device
 * @param idev its iommufd device (the {@code dev_id} of the records)
 * @param pasid the PASID of the attachment the group was routed to ({@code attach_handle}), 0 for the RID
 * @param faults the requests, in report order; the last has LAST_PAGE
 */
record IopfGroup(DeviceHandle device, IommufdDevice idev, int pasid, List<IoPageFault> faults) {

    IoPageFault last() {
        return faults.get(faults.size() - 1);
    }

    /** {@code iopf_group_response}: the driver answers the whole group (built from the last request). */
    void respond(int code) {
        IoPageFault f = last();
        device.driver().pageResponse(device, new PageResponse(f.pasid(), f.pasidValid(), f.grpid(), code));
    }
}
