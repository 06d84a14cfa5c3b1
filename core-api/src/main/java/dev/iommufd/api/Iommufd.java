package dev.iommufd.api;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.List;
import java.util.ServiceLoader;

/**
 * An open {@code /dev/iommu} file descriptor in one process: the typed face of iommufd. Every method mirrors one
 * ioctl (or kernel API) with typed arguments; the ioctl face ({@link #ioctl}) parses the same structs userspace
 * passes and calls the same implementation.
 *
 * <h2>Errors</h2>
 * Every method fails with {@link ErrnoException} carrying the kernel's errno (same validation order) and a
 * message naming the offending argument. A failed call leaves state unchanged except where the kernel documents
 * partial progress (then {@link ErrnoException#progress()} reports it).
 *
 * <h2>Processes</h2>
 * "Current" in the kernel's sense (who pins, who is charged, whose capabilities count) is {@link #process()}.
 * {@link #inheritedBy} gives the same open file as seen from another process (an fd inherited over fork or passed
 * with SCM_RIGHTS); the file is released when its last descriptor is closed.
 *
 * <p>Thread-safe.
 */
public interface Iommufd extends AutoCloseable {

    /** Opens {@code /dev/iommu} on {@code machine} as {@code process} with the implementation on the class path. */
    static Iommufd open(Machine machine, UserProcess process) {
        IommufdProvider provider = ServiceLoader.load(IommufdProvider.class).findFirst()
                .orElseThrow(() -> new ErrnoException(Errno.ENODEV, "no iommufd implementation on the class path"));
        return provider.open(machine, process);
    }

    /** The process this descriptor belongs to ("current" for every call). */
    UserProcess process();

    /** The same open file, as a descriptor of {@code process} (fork / SCM_RIGHTS). */
    Iommufd inheritedBy(UserProcess process);

    /**
     * The ioctl face: {@code ioctl(fd, request, argAddress)} with the argument struct in {@link #process()}'s
     * memory.
     *
     * @return 0 on success, {@code -errno} on failure
     */
    int ioctl(long request, long argAddress);

    /**
     * IOMMU_DESTROY.
     *
     * @throws ErrnoException ENOENT for an unknown ID (or one still being created); EBUSY while another object,
     *         an attachment or an in-flight call holds a reference
     */
    void destroy(int id);

    /** IOMMU_IOAS_ALLOC with {@code flags = 0}: a new, empty IOAS. @return its ID */
    int ioasAlloc();

    /**
     * IOMMU_IOAS_MAP.
     *
     * @param flags {@code IommuIoasMap.FLAG_*}: FIXED_IOVA, WRITEABLE, READABLE
     * @param iova the IOVA when FIXED_IOVA is set; ignored otherwise
     * @return the IOVA of the mapping
     */
    long ioasMap(int ioasId, int flags, long userVa, long length, long iova);

    /** IOMMU_IOAS_MAP_FILE: maps {@code length} bytes of memfd {@code fd} (of {@link #process()}) from {@code start}. */
    long ioasMapFile(int ioasId, int flags, int fd, long start, long length, long iova);

    /**
     * IOMMU_IOAS_COPY: maps the pages behind {@code [srcIova, srcIova + length)} of {@code srcIoasId} into
     * {@code dstIoasId} without pinning them again.
     *
     * @return the destination IOVA
     */
    long ioasCopy(int dstIoasId, int srcIoasId, int flags, long length, long dstIova, long srcIova);

    /**
     * IOMMU_IOAS_UNMAP: unmaps every area inside {@code [iova, iova + length)}; {@code (0, -1L)} unmaps all.
     *
     * @return bytes unmapped
     * @throws ErrnoException ENOENT when an area straddles the range or (ranged) nothing was unmapped; areas
     *         removed before the failure stay removed and {@link ErrnoException#progress()} counts their bytes
     */
    long ioasUnmap(int ioasId, long iova, long length);

    /** IOMMU_IOAS_IOVA_RANGES (all ranges; the ioctl face adds the EMSGSIZE capacity protocol). */
    IovaRanges ioasIovaRanges(int ioasId);

    /** IOMMU_IOAS_ALLOW_IOVAS: replaces the allow list (empty list = no allow list). */
    void ioasAllowIovas(int ioasId, List<IovaRange> ranges);

    /**
     * IOMMU_OPTION with OP_GET.
     *
     * @param optionId {@code IommuOption.OPTION_RLIMIT_MODE} (objectId 0) or {@code OPTION_HUGE_PAGES} (an IOAS)
     */
    long optionGet(int optionId, int objectId);

    /** IOMMU_OPTION with OP_SET. */
    void optionSet(int optionId, int objectId, long value);

    /** IOMMU_IOAS_CHANGE_PROCESS: moves the accounting of every (file-backed) map to {@link #process()}. */
    void ioasChangeProcess();

    /**
     * {@code iommufd_access_create}: an in-kernel user of IOAS memory (not an ioctl; the kernel's selftests reach
     * it through IOMMU_TEST_CMD).
     */
    IommufdAccess accessCreate(AccessOps ops);

    // ---------------------------------------------------------------- devices and HWPTs (device.c, hw_pagetable.c)
    // Added by the device/HWPT work; defaults fail with EOPNOTSUPP for implementations without devices.

    /**
     * VFIO_DEVICE_BIND_IOMMUFD ({@code iommufd_device_bind}): claims DMA ownership of {@code function} for this
     * file. The binding keeps the file open until {@link #unbindDevice}.
     *
     * @return the DEVICE object ID
     * @throws ErrnoException ENODEV when no driver drives the function's IOMMU unit; EBUSY when the function is
     *         bound already or its IOMMU group belongs to another iommufd
     */
    default int bindDevice(dev.iommufd.platform.PciFunction function) {
        throw ErrnoException.notSupported("device binding");
    }

    /**
     * VFIO cdev close ({@code iommufd_device_unbind}).
     *
     * @throws ErrnoException ENOENT; EBUSY while the device is attached
     */
    default void unbindDevice(int devId) {
        throw ErrnoException.notSupported("device binding");
    }

    /**
     * VFIO_DEVICE_ATTACH_IOMMUFD_PT on a detached (device, PASID) ({@code iommufd_device_attach}).
     *
     * @param pasid 0 (IOMMU_NO_PASID) for the RID
     * @param ptId an IOAS (an automatic HWPT is chosen or created) or a HWPT
     * @return the HWPT attached
     */
    default int deviceAttach(int devId, int pasid, int ptId) {
        throw ErrnoException.notSupported("device attach");
    }

    /** VFIO_DEVICE_ATTACH_IOMMUFD_PT on an attached (device, PASID): atomic replace. @return the HWPT attached */
    default int deviceReplace(int devId, int pasid, int ptId) {
        throw ErrnoException.notSupported("device replace");
    }

    /** VFIO_DEVICE_DETACH_IOMMUFD_PT: a no-op when nothing is attached at that PASID. */
    default void deviceDetach(int devId, int pasid) {
        throw ErrnoException.notSupported("device detach");
    }

    /**
     * IOMMU_HWPT_ALLOC.
     *
     * @param flags {@code IommuHwptAlloc.FLAG_*}
     * @param ptId an IOAS (paging HWPT) or a NEST_PARENT HWPT (nested HWPT)
     * @param dataType {@code IommuHwptAlloc.DATA_*} or a driver type; {@code data} empty for DATA_NONE
     * @param faultId the FAULT object, used with FLAG_FAULT_ID_VALID
     * @return the HWPT ID
     */
    default int hwptAlloc(int devId, int ptId, int flags, int dataType, byte[] data, int faultId) {
        throw ErrnoException.notSupported("HWPT allocation");
    }

    /**
     * IOMMU_GET_HW_INFO without the buffer protocol: the whole vendor structure.
     *
     * @param flags {@code IommuHwInfo.FLAG_INPUT_TYPE} or 0
     * @param dataType the requested type when FLAG_INPUT_TYPE is set
     */
    default dev.iommufd.spi.HwInfo getHwInfo(int devId, int flags, int dataType) {
        throw ErrnoException.notSupported("GET_HW_INFO");
    }

    /** IOMMU_HWPT_SET_DIRTY_TRACKING. */
    default void hwptSetDirtyTracking(int hwptId, boolean enable) {
        throw ErrnoException.notSupported("dirty tracking");
    }

    /**
     * IOMMU_HWPT_GET_DIRTY_BITMAP: sets (never clears) bit {@code k} of the bitmap at user address {@code data} for
     * each dirty {@code [iova + k * pageSize, +pageSize)}; clears the IOPTE dirty bits unless NO_CLEAR.
     */
    default void hwptGetDirtyBitmap(int hwptId, int flags, long iova, long length, long pageSize, long data) {
        throw ErrnoException.notSupported("dirty tracking");
    }

    /**
     * IOMMU_HWPT_INVALIDATE with {@code entryNum} entries of {@code entryLen} bytes at user address {@code dataUptr}.
     *
     * @return the entries handled (all of them)
     * @throws ErrnoException on the first failing entry, with {@link ErrnoException#progress()} = entries handled
     */
    default int hwptInvalidate(int hwptId, int dataType, long dataUptr, int entryLen, int entryNum) {
        throw ErrnoException.notSupported("HWPT invalidation");
    }

    /** Closes this descriptor; the last close releases the file, destroying every object leaf first. */
    @Override
    void close();
}
