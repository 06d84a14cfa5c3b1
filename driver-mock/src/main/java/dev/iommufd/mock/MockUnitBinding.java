package dev.iommufd.mock;

import static dev.iommufd.mock.hw.MockRegisters.*;

import dev.iommufd.platform.FrameAllocator;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.MsiVector;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.mock.hw.MockContextEntry;
import dev.iommufd.mock.hw.MockPageRequest;
import dev.iommufd.spi.IoPageFault;
import java.util.HashMap;
import java.util.Map;

/**
 * The driver's hold on one mock IOMMU unit: its register window (reached only through the MMIO bus), the device
 * table and page-request queue the driver allocated for it, the PQ interrupt, and the devices probed behind it.
 *
 * <p>Locks: {@code invalidationLock} serialises the INV_ADDR/INV_LAST/INV_CMD sequence; {@code queueLock} the
 * page-request queue drain; {@code devices} is guarded by the driver's lock.
 */
final class MockUnitBinding {
    final String name;
    final long base;
    private final MockIommu driver;
    private final MmioBus mmio;
    private final PhysicalMemory memory;
    final long deviceTable;
    private final long pageRequestQueue;
    private final MsiVector vector;
    private final Object invalidationLock = new Object();
    private final Object queueLock = new Object();
    final Map<Integer, MockDevice> devices = new HashMap<>();

    MockUnitBinding(MockIommu driver, Machine machine, String name, long base) {
        this.driver = driver;
        this.name = name;
        this.base = base;
        this.mmio = machine.mmio();
        this.memory = machine.memory();
        FrameAllocator frames = memory.frames();
        write32(CTRL, 0);
        this.deviceTable = frames.allocate(MockContextEntry.DEVICE_TABLE_ORDER);
        long pq = 0;
        MsiVector v = null;
        try {
            pq = frames.allocateFrame();
            v = machine.interrupts().allocate(name + "-prq", this::drainPageRequests);
        } catch (RuntimeException e) {
            if (pq != 0) {
                frames.free(pq, 0);
            }
            frames.free(deviceTable, MockContextEntry.DEVICE_TABLE_ORDER);
            throw e;
        }
        this.pageRequestQueue = pq;
        this.vector = v;
        write64(DTBR, deviceTable);
        write64(PQ_BASE, pageRequestQueue);
        write32(PQ_HEAD, 0);
        write64(PQ_MSI_ADDR, vector.address());
        write32(PQ_MSI_DATA, vector.data());
        write64(INV_CMD, INV_OP_ALL);
        write32(CTRL, CTRL_TE | CTRL_PQE);
    }

    int read32(long offset) {
        return mmio.read32(base + offset);
    }

    long read64(long offset) {
        return mmio.read64(base + offset);
    }

    void write32(long offset, int value) {
        mmio.write32(base + offset, value);
    }

    void write64(long offset, long value) {
        mmio.write64(base + offset, value);
    }

    /** Reads the board-wired mock flags of {@code rid} through DEVSEL/DEVCAP. */
    int deviceFlags(int rid) {
        synchronized (invalidationLock) {
            write32(DEVSEL, rid);
            return read32(DEVCAP);
        }
    }

    void invalidateRange(int tag, long first, long last) {
        synchronized (invalidationLock) {
            write64(INV_ADDR, first);
            write64(INV_LAST, last);
            write64(INV_CMD, INV_OP_TAG_RANGE | ((long) tag << INV_DTAG_SHIFT));
        }
    }

    void invalidateTag(int tag) {
        synchronized (invalidationLock) {
            write64(INV_CMD, INV_OP_TAG | ((long) tag << INV_DTAG_SHIFT));
        }
    }

    /** The PQ interrupt handler: reports every queued page request to the core, then frees the entries. */
    private void drainPageRequests() {
        synchronized (queueLock) {
            int head = read32(PQ_HEAD);
            int tail = read32(PQ_TAIL);
            while (head != tail) {
                long entry = pageRequestQueue + (long) head * MockPageRequest.SIZE;
                long w0 = memory.read64(entry);
                long w1 = memory.read64(entry + 8);
                head = (head + 1) & (PQ_ENTRIES - 1);
                write32(PQ_HEAD, head);
                MockDevice device = driver.deviceAt(this, MockPageRequest.rid(w1));
                if (device == null) {
                    continue; // a request from a function nobody probed: dropped
                }
                int flags = ((w0 & MockPageRequest.LAST) != 0 ? IoPageFault.FLAG_LAST_PAGE : 0)
                        | ((w0 & MockPageRequest.PASID_VALID) != 0 ? IoPageFault.FLAG_PASID_VALID : 0);
                int perm = ((w0 & MockPageRequest.READ) != 0 ? IoPageFault.PERM_READ : 0)
                        | ((w0 & MockPageRequest.WRITE) != 0 ? IoPageFault.PERM_WRITE : 0)
                        | ((w0 & MockPageRequest.EXEC) != 0 ? IoPageFault.PERM_EXEC : 0)
                        | ((w0 & MockPageRequest.PRIV) != 0 ? IoPageFault.PERM_PRIV : 0);
                int pasid = (w0 & MockPageRequest.PASID_VALID) != 0 ? MockPageRequest.pasid(w1) : 0;
                driver.faultSink().reportPageFault(device, new IoPageFault(flags, pasid, MockPageRequest.prgi(w1), perm,
                        w0 & MockPageRequest.ADDR_MASK, 0, 0));
            }
        }
    }

    /** Disables the unit and frees what the driver allocated for it. */
    void shutdown(Machine machine) {
        write32(CTRL, 0);
        write64(DTBR, 0);
        write64(PQ_BASE, 0);
        write64(INV_CMD, INV_OP_ALL);
        machine.interrupts().free(vector);
        FrameAllocator frames = memory.frames();
        frames.free(pageRequestQueue, 0);
        frames.free(deviceTable, MockContextEntry.DEVICE_TABLE_ORDER);
    }
}
