package dev.iommufd.mock.hw;

import static dev.iommufd.mock.hw.MockRegisters.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterMap;
import dev.iommufd.spi.hw.Translation;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * The mock IOMMU hardware: the register window of {@link MockRegisters}, a device table of
 * {@link MockContextEntry} entries, PASID directories, {@link MockIoPte} page tables, an {@link MockIotlb}, a
 * fault-record ring ({@link MockFaultRecord}) and a page-request queue ({@link MockPageRequest}) signalled by MSI.
 *
 * <p>The unit reads only its registers and physical memory. The one exception is board wiring: the per-RID
 * mock device flags ({@link #installDeviceFlags}) that the board (see {@code MockIommu.createDevice}) sets when it
 * plugs a mock device in, which software reads through DEVSEL/DEVCAP like a capability register.
 *
 * <p>Locks: {@code registerLock} guards the registers, the fault ring and the page-request queue; the IOTLB has
 * its own lock; translation takes neither while it reads tables, and never holds a lock while it signals an MSI.
 * The device-table base and CTRL are volatile so translation reads them without locking.
 */
public final class MockIommuUnit implements IommuUnitModel {
    /** IOTLB geometry: 64 sets of 4 ways. */
    public static final int IOTLB_SETS_LOG2 = 6;
    public static final int IOTLB_WAYS = 4;
    /** Physical address width the context entries can express. */
    public static final int PAW = 48;

    private static final RegisterMap REGISTER_MAP = buildRegisterMap();

    private final String name;
    private final long mmioBase;
    private final HardwareContext context;
    private final PhysicalMemory memory;
    private final MockIotlb iotlb;
    private final Object registerLock = new Object();

    private volatile int ctrl;
    private volatile long dtbr;
    private long invAddr;
    private long invLast;
    private int invCount;
    private int devsel;
    private final Map<Integer, Integer> deviceFlags = new HashMap<>();
    private int fri;
    private boolean pfo;
    private final long[] frcdLo = new long[FRCD_COUNT];
    private final long[] frcdHi = new long[FRCD_COUNT];
    private long pqBase;
    private int pqHead;
    private int pqTail;
    private long pqMsiAddr;
    private int pqMsiData;
    private boolean pqOverflow;
    private int nextPrgi;
    private long prsLast;
    private int prsCount;

    public MockIommuUnit(String name, long mmioBase, HardwareContext context) {
        this.name = name;
        this.mmioBase = mmioBase;
        this.context = context;
        this.memory = context.memory();
        this.iotlb = new MockIotlb(memory, IOTLB_SETS_LOG2, IOTLB_WAYS);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String model() {
        return MockHardwareModelProvider.ID;
    }

    @Override
    public long mmioBase() {
        return mmioBase;
    }

    @Override
    public long size() {
        return WINDOW_SIZE;
    }

    /** The IOTLB (for tests and snapshots; software reaches it only through INV_CMD). */
    public MockIotlb iotlb() {
        return iotlb;
    }

    /**
     * Board wiring: records the mock device flags ({@code MOCK_FLAGS_DEVICE_*}) of the function at {@code rid},
     * readable by software through DEVSEL/DEVCAP.
     */
    public void installDeviceFlags(int rid, int flags) {
        synchronized (registerLock) {
            deviceFlags.put(rid & 0xffff, flags);
        }
    }

    /** Removes a board wiring entry (when plugging the device in failed). */
    public void removeDeviceFlags(int rid) {
        synchronized (registerLock) {
            deviceFlags.remove(rid & 0xffff);
        }
    }

    // ---------------------------------------------------------------- registers

    /**
     * The register layout (see {@link MockRegisters}); INV_CMD and PRS are write-only, so snapshots do not list them.
     */
    private static RegisterMap buildRegisterMap() {
        RegisterMap.Builder m = RegisterMap.builder(WINDOW_SIZE);
        m.register(VERSION, "MOCK_VERSION", 32);
        m.register(CAP, "MOCK_CAP", 64);
        m.register(CTRL, "MOCK_CTRL", 32);
        m.register(STATUS, "MOCK_STATUS", 32);
        m.register(DTBR, "MOCK_DTBR", 64);
        m.register(INV_ADDR, "MOCK_INV_ADDR", 64);
        m.register(INV_LAST, "MOCK_INV_LAST", 64);
        m.register(INV_COUNT, "MOCK_INV_COUNT", 32);
        m.register(DEVSEL, "MOCK_DEVSEL", 32);
        m.register(DEVCAP, "MOCK_DEVCAP", 32);
        m.register(FSTS, "MOCK_FSTS", 32);
        m.register(PQ_BASE, "MOCK_PQ_BASE", 64);
        m.register(PQ_HEAD, "MOCK_PQ_HEAD", 32);
        m.register(PQ_TAIL, "MOCK_PQ_TAIL", 32);
        m.register(PQ_MSI_ADDR, "MOCK_PQ_MSI_ADDR", 64);
        m.register(PQ_MSI_DATA, "MOCK_PQ_MSI_DATA", 32);
        m.register(PQ_STS, "MOCK_PQ_STS", 32);
        m.register(PRS_LAST, "MOCK_PRS_LAST", 64);
        m.register(PRS_COUNT, "MOCK_PRS_COUNT", 32);
        m.register(IOTLB_HITS, "MOCK_IOTLB_HITS", 64);
        m.register(IOTLB_MISSES, "MOCK_IOTLB_MISSES", 64);
        m.writeOnly(INV_CMD, "MOCK_INV_CMD", 64);
        m.writeOnly(PRS, "MOCK_PRS", 64);
        for (int i = 0; i < FRCD_COUNT; i++) {
            m.register(frcdLo(i), "MOCK_FRCD" + i + "_LO", 64);
            m.register(frcdHi(i), "MOCK_FRCD" + i + "_HI", 64);
        }
        return m.build();
    }

    @Override
    public List<RegisterInfo> registers() {
        return REGISTER_MAP.registers();
    }

    @Override
    public long peekRegister(RegisterInfo register) {
        return readRegister(register.offset());
    }

    private void checkAccess(long offset, int width) {
        int w = REGISTER_MAP.widthAt(offset) / 8;
        if (w == 0) {
            throw new BusErrorException(mmioBase + offset, name + ": no register at offset 0x" + Long.toHexString(offset));
        }
        if (w != width) {
            throw new BusErrorException(mmioBase + offset, name + ": register at offset 0x" + Long.toHexString(offset)
                    + " is " + (w * 8) + "-bit, accessed with width " + width);
        }
    }

    @Override
    public long read(long offset, int width) {
        checkAccess(offset, width);
        return readRegister(offset);
    }

    private long readRegister(long offset) {
        synchronized (registerLock) {
            if (offset >= FRCD_BASE) {
                int i = (int) ((offset - FRCD_BASE) >>> 4);
                return (offset & 8) == 0 ? frcdLo[i] : frcdHi[i];
            }
            switch ((int) offset) {
                case (int) VERSION:
                    return VERSION_1_0;
                case (int) CAP:
                    return PAW | ((long) MockContextEntry.PASID_BITS << CAP_MAX_PASID_LOG2_SHIFT)
                            | ((long) IOTLB_WAYS << CAP_IOTLB_WAYS_SHIFT)
                            | ((long) IOTLB_SETS_LOG2 << CAP_IOTLB_SETS_LOG2_SHIFT)
                            | CAP_HUGE | CAP_DIRTY | CAP_PRQ | CAP_PASID;
                case (int) CTRL:
                case (int) STATUS:
                    return ctrl & 0xffff_ffffL;
                case (int) DTBR:
                    return dtbr;
                case (int) INV_ADDR:
                    return invAddr;
                case (int) INV_LAST:
                    return invLast;
                case (int) INV_COUNT:
                    return invCount & 0xffff_ffffL;
                case (int) DEVSEL:
                    return devsel;
                case (int) DEVCAP:
                    return deviceFlags.getOrDefault(devsel, 0) & 0xffff_ffffL;
                case (int) FSTS:
                    return fri | (pfo ? FSTS_PFO : 0);
                case (int) PQ_BASE:
                    return pqBase;
                case (int) PQ_HEAD:
                    return pqHead;
                case (int) PQ_TAIL:
                    return pqTail;
                case (int) PQ_MSI_ADDR:
                    return pqMsiAddr;
                case (int) PQ_MSI_DATA:
                    return pqMsiData & 0xffff_ffffL;
                case (int) PQ_STS:
                    return pqOverflow ? PQ_STS_PQO : 0;
                case (int) PRS_LAST:
                    return prsLast;
                case (int) PRS_COUNT:
                    return prsCount & 0xffff_ffffL;
                case (int) IOTLB_HITS:
                    return iotlb.hits();
                case (int) IOTLB_MISSES:
                    return iotlb.misses();
                default: // INV_CMD, PRS: write-only
                    return 0;
            }
        }
    }

    @Override
    public void write(long offset, int width, long value) {
        checkAccess(offset, width);
        if (offset == INV_CMD) {
            executeInvalidation(value);
            return;
        }
        synchronized (registerLock) {
            if (offset >= FRCD_BASE) {
                int i = (int) ((offset - FRCD_BASE) >>> 4);
                if ((offset & 8) != 0 && (value & MockFaultRecord.FAULT) != 0) {
                    frcdHi[i] &= ~MockFaultRecord.FAULT;
                }
                return;
            }
            switch ((int) offset) {
                case (int) CTRL:
                    ctrl = (int) value & (CTRL_TE | CTRL_PQE);
                    break;
                case (int) DTBR:
                    if ((ctrl & CTRL_TE) == 0) {
                        dtbr = value & MockContextEntry.ADDR_MASK;
                    }
                    break;
                case (int) INV_ADDR:
                    invAddr = value;
                    break;
                case (int) INV_LAST:
                    invLast = value;
                    break;
                case (int) DEVSEL:
                    devsel = (int) value & 0xffff;
                    break;
                case (int) FSTS:
                    if ((value & FSTS_PFO) != 0) {
                        pfo = false;
                    }
                    break;
                case (int) PQ_BASE:
                    pqBase = value & MockContextEntry.ADDR_MASK;
                    break;
                case (int) PQ_HEAD:
                    pqHead = (int) value & (PQ_ENTRIES - 1);
                    break;
                case (int) PQ_MSI_ADDR:
                    pqMsiAddr = value;
                    break;
                case (int) PQ_MSI_DATA:
                    pqMsiData = (int) value;
                    break;
                case (int) PQ_STS:
                    if ((value & PQ_STS_PQO) != 0) {
                        pqOverflow = false;
                    }
                    break;
                case (int) PRS:
                    prsLast = value;
                    prsCount++;
                    break;
                default: // read-only registers ignore writes
                    break;
            }
        }
    }

    private void executeInvalidation(long cmd) {
        int op = (int) (cmd & INV_OP_MASK);
        int tag = (int) (cmd >>> INV_DTAG_SHIFT) & MockContextEntry.DTAG_MAX;
        long first;
        long last;
        synchronized (registerLock) {
            first = invAddr;
            last = invLast;
            invCount++;
        }
        switch (op) {
            case INV_OP_ALL:
                iotlb.invalidateAll();
                break;
            case INV_OP_TAG:
                iotlb.invalidateTag(tag);
                break;
            case INV_OP_TAG_RANGE:
                iotlb.invalidateRange(tag, first, last);
                break;
            default: // unknown opcodes are ignored
                break;
        }
    }

    // ---------------------------------------------------------------- translation

    @Override
    public Translation translate(int rid, int pasid, long iova, int access, Translation out) {
        int c = ctrl;
        if ((c & CTRL_TE) == 0) {
            return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_NOT_ENABLED, false);
        }
        long dte = MockContextEntry.dtePa(dtbr, rid & 0xffff);
        long context;
        boolean pageRequests;
        try {
            long w0 = memory.read64(dte);
            if ((w0 & MockContextEntry.VALID) == 0) {
                return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_CONTEXT_INVALID, false);
            }
            pageRequests = (w0 & MockContextEntry.PAGE_REQUEST_ENABLE) != 0 && (c & CTRL_PQE) != 0;
            context = w0;
            if (pasid != DmaAttributes.NO_PASID) {
                long w1 = memory.read64(dte + 8);
                if ((w1 & MockContextEntry.PASID_DIR_VALID) == 0) {
                    return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_PASID_INVALID, false);
                }
                long dir = memory.read64(MockContextEntry.pasidDirEntryPa(w1 & MockContextEntry.ADDR_MASK, pasid));
                if ((dir & MockContextEntry.PASID_DIR_PRESENT) == 0) {
                    return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_PASID_INVALID, false);
                }
                context = memory.read64(MockContextEntry.pasidEntryPa(dir & MockContextEntry.ADDR_MASK, pasid));
                if ((context & MockContextEntry.VALID) == 0) {
                    return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_PASID_INVALID, false);
                }
            }
        } catch (BusErrorException e) {
            return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_WALK_ABORT, false);
        }
        switch (MockContextEntry.mode(context)) {
            case MockContextEntry.MODE_BLOCKED:
                return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_BLOCKED, false);
            case MockContextEntry.MODE_IDENTITY:
                return out.ok(iova, PhysicalMemory.FRAME_SIZE);
            case MockContextEntry.MODE_PAGING:
                return translatePaging(context, rid, pasid, iova, access, pageRequests, out);
            default:
                return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_MALFORMED, false);
        }
    }

    private Translation translatePaging(long context, int rid, int pasid, long iova, int access, boolean pageRequests,
            Translation out) {
        if ((iova >>> MockIoPte.IOVA_BITS) != 0) {
            return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_ADDRESS_SIZE, false);
        }
        int tag = MockContextEntry.dtag(context);
        boolean write = (access & Translation.ACCESS_WRITE) != 0;
        boolean markDirty = write && (context & MockContextEntry.DIRTY_ENABLE) != 0;
        long leaf = iotlb.lookup(tag, iova, markDirty);
        if (leaf == 0) {
            long generation = iotlb.generation();
            long walked = MockTableWalker.walk(memory, MockContextEntry.root(context), iova);
            if (walked < 0) {
                int reason = (int) -walked;
                return fault(out, rid, pasid, iova, access, reason,
                        pageRequests && reason == MockFaultRecord.REASON_NOT_PRESENT);
            }
            long entryPa = walked & ~MockTableWalker.RESULT_BLOCK;
            long pte;
            try {
                pte = memory.read64(entryPa);
                if (!MockIoPte.isPresent(pte)) {
                    return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_NOT_PRESENT, pageRequests);
                }
                if (markDirty && (pte & MockIoPte.WRITE) != 0 && (pte & MockIoPte.DIRTY) == 0) {
                    pte = memory.getAndOr64(entryPa, MockIoPte.DIRTY) | MockIoPte.DIRTY;
                }
            } catch (BusErrorException e) {
                return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_WALK_ABORT, false);
            }
            leaf = pte | ((walked & MockTableWalker.RESULT_BLOCK) != 0 ? MockIotlb.CACHED_BLOCK : 0);
            iotlb.insert(tag, iova, leaf, entryPa, generation);
        }
        boolean readable = (leaf & MockIoPte.READ) != 0;
        boolean permitted = write ? (leaf & MockIoPte.WRITE) != 0 : readable;
        if (write && (access & (Translation.ACCESS_READ | Translation.ACCESS_EXEC)) != 0) {
            permitted &= readable;
        }
        if (!permitted) {
            return fault(out, rid, pasid, iova, access, MockFaultRecord.REASON_PERMISSION, pageRequests);
        }
        if ((leaf & MockIotlb.CACHED_BLOCK) != 0) {
            return out.ok(MockIoPte.blockAddress(leaf) | (iova & (MockIoPte.BLOCK_SIZE - 1)), MockIoPte.BLOCK_SIZE);
        }
        return out.ok(MockIoPte.pageAddress(leaf) | (iova & (MockIoPte.PAGE_SIZE - 1)), MockIoPte.PAGE_SIZE);
    }

    private Translation fault(Translation out, int rid, int pasid, long iova, int access, int reason,
            boolean pageRequest) {
        long msiAddr = 0;
        int msiData = 0;
        boolean queued = false;
        synchronized (registerLock) {
            if (pageRequest && ((pqTail + 1) & (PQ_ENTRIES - 1)) != pqHead) {
                long entry = pqBase + (long) pqTail * MockPageRequest.SIZE;
                long w0 = (iova & MockPageRequest.ADDR_MASK) | MockPageRequest.LAST
                        | ((access & Translation.ACCESS_READ) != 0 ? MockPageRequest.READ : 0)
                        | ((access & Translation.ACCESS_WRITE) != 0 ? MockPageRequest.WRITE : 0)
                        | ((access & Translation.ACCESS_EXEC) != 0 ? MockPageRequest.EXEC : 0)
                        | ((access & Translation.ACCESS_PRIV) != 0 ? MockPageRequest.PRIV : 0)
                        | (pasid != DmaAttributes.NO_PASID ? MockPageRequest.PASID_VALID : 0);
                long w1 = MockPageRequest.word1(rid, pasid == DmaAttributes.NO_PASID ? 0 : pasid, nextPrgi);
                nextPrgi = (nextPrgi + 1) & MockPageRequest.PRGI_MASK;
                memory.write64(entry, w0);
                memory.write64(entry + 8, w1);
                pqTail = (pqTail + 1) & (PQ_ENTRIES - 1);
                msiAddr = pqMsiAddr;
                msiData = pqMsiData;
                queued = true;
            } else {
                if (pageRequest) {
                    pqOverflow = true;
                }
                if ((frcdHi[fri] & MockFaultRecord.FAULT) != 0) {
                    pfo = true;
                } else {
                    frcdLo[fri] = iova;
                    frcdHi[fri] = MockFaultRecord.high(rid, pasid, access, reason);
                    fri = (fri + 1) % FRCD_COUNT;
                }
            }
        }
        if (queued) {
            if (msiAddr != 0) {
                context.interrupts().signal(msiAddr, msiData);
            }
            return out.pageRequest(reason);
        }
        return out.fault(reason);
    }

    // ---------------------------------------------------------------- structures

    @Override
    public void visitStructureFrames(LongConsumer framePhysicalAddress) {
        long dt = dtbr;
        int c = ctrl;
        long pq;
        synchronized (registerLock) {
            pq = pqBase;
        }
        Set<Long> seen = new HashSet<>();
        LongConsumer once = pa -> {
            if (seen.add(pa)) {
                framePhysicalAddress.accept(pa);
            }
        };
        if ((c & CTRL_PQE) != 0) {
            once.accept(pq);
        }
        if ((c & CTRL_TE) == 0) {
            return; // physical address 0 is RAM: only TE says the device table is in use
        }
        for (int f = 0; f < (1 << MockContextEntry.DEVICE_TABLE_ORDER); f++) {
            once.accept(dt + (long) f * PhysicalMemory.FRAME_SIZE);
        }
        for (int rid = 0; rid < MockContextEntry.DTE_COUNT; rid++) {
            long dte = MockContextEntry.dtePa(dt, rid);
            long w0 = memory.read64(dte);
            if ((w0 & MockContextEntry.VALID) == 0) {
                continue;
            }
            visitContext(w0, once);
            long w1 = memory.read64(dte + 8);
            if ((w1 & MockContextEntry.PASID_DIR_VALID) == 0) {
                continue;
            }
            long dir = w1 & MockContextEntry.ADDR_MASK;
            for (int f = 0; f < (1 << MockContextEntry.PASID_DIR_ORDER); f++) {
                once.accept(dir + (long) f * PhysicalMemory.FRAME_SIZE);
            }
            for (int d = 0; d < MockContextEntry.PASID_DIR_ENTRIES; d++) {
                long de = memory.read64(dir + 8L * d);
                if ((de & MockContextEntry.PASID_DIR_PRESENT) == 0) {
                    continue;
                }
                long table = de & MockContextEntry.ADDR_MASK;
                once.accept(table);
                for (int p = 0; p < MockContextEntry.PASID_TABLE_ENTRIES; p++) {
                    long ctx = memory.read64(table + 8L * p);
                    if ((ctx & MockContextEntry.VALID) != 0) {
                        visitContext(ctx, once);
                    }
                }
            }
        }
    }

    private void visitContext(long context, LongConsumer once) {
        if (MockContextEntry.mode(context) == MockContextEntry.MODE_PAGING) {
            MockTableWalker.visitTables(memory, MockContextEntry.root(context), once);
        }
    }

    /** Validates a preset name. */
    static void checkPreset(String preset) {
        if (!MockHardwareModelProvider.PRESET_DEFAULT.equals(preset)) {
            throw ErrnoException.of(Errno.EINVAL, "mock IOMMU: unknown preset '%s' (known: %s)", preset,
                    MockHardwareModelProvider.PRESET_DEFAULT);
        }
    }
}
