package dev.iommufd.smmuv3;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.CopyOnWriteArrays;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.smmuv3.layout.TranslationGranule;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IotlbGather;

/**
 * A paging domain ({@code struct arm_smmu_domain}): a stage-1 domain (an ASID, a CD pointing at an
 * {@link LpaeIoPageTable} of stage-1 format) or a stage-2 domain (a VMID, STE S2 fields pointing at a stage-2
 * table). Linux picks stage 1 when the SMMU has it, stage 2 otherwise or for NEST_PARENT domains.
 *
 * <h2>Invalidation ({@code arm_smmu_tlb_inv_range_domain})</h2>
 * Stage 1: CMD_TLBI_NH_VA{ASID}; stage 2: CMD_TLBI_S2_IPA{VMID}. With IDR3.RIL, range commands
 * (TG/SCALE/NUM/TTL, as {@code __arm_smmu_tlb_inv_range} computes them); without it one command per granule,
 * or one ASID-/VMID-wide command when the range has at least 512 granules ({@code CMDQ_MAX_TLBI_OPS}). Every
 * batch ends with CMD_SYNC; emptied table pages are freed only after it.
 *
 * <p>Locking: no domain lock on map/unmap/dirty: the page table is safe for concurrent calls on disjoint ranges
 * (its rule: tables installed by compare-and-set, see {@link LpaeIoPageTable}); invalidation batches hold the
 * command queue's lock; {@link #masters} is copy-on-write under {@code this}.
 */
final class Smmuv3PagingDomain implements IommuDomain {
    /** Linux {@code CMDQ_MAX_TLBI_OPS} for 4 KiB PAGE_SIZE. */
    static final int MAX_TLBI_OPS = 512;
    /** Stage-1 input size: min(IDR5.VAX ? 52 : 48, the kernel's VA_BITS of 48). */
    static final int S1_INPUT_BITS = 48;

    private final Smmuv3Driver driver;
    final SmmuInstance smmu;
    final boolean stage2;
    /** Allocated with NEST_PARENT: the stage 2 of nested domains (S2FWB when the SMMU has FWB). */
    final boolean nestParent;
    final LpaeIoPageTable pageTable;
    /** log2 of the smallest page size ({@code __ffs(pgsize_bitmap)}): the range invalidation's TG, in bits. */
    private final int tg;
    final int asid;
    final int vmid;
    private final int flags;
    private final DomainGeometry geometry;
    private volatile SmmuMaster[] masters = new SmmuMaster[0];
    private final LpaeIoPageTable.PageGatherer gatherer = this::gatherPages;
    private boolean coherencyEnforced;
    private volatile boolean dirtyTracking;
    private boolean freed;

    Smmuv3PagingDomain(Smmuv3Driver driver, SmmuInstance smmu, int flags) {
        this.driver = driver;
        this.smmu = smmu;
        this.flags = flags;
        SmmuFeatures f = smmu.features;
        boolean nestParent = (flags & DomainAllocFlags.NEST_PARENT) != 0;
        boolean dirty = (flags & DomainAllocFlags.DIRTY_TRACKING) != 0;
        if (nestParent && !(f.stage1 && f.stage2)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "SMMU %s cannot nest (needs both stages)", smmu.name);
        }
        if (nestParent && dirty) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "dirty tracking is a stage-1 feature; a NEST_PARENT is stage 2");
        }
        if (dirty && !(f.httuDirty && f.stage1)) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "SMMU %s cannot track dirty state (no HTTU dirty on stage 1)",
                    smmu.name);
        }
        if ((flags & DomainAllocFlags.PASID) != 0 && !f.stage1) {
            throw ErrnoException.of(Errno.EOPNOTSUPP, "PASID domains need stage 1, which SMMU %s lacks", smmu.name);
        }
        this.nestParent = nestParent;
        this.stage2 = !f.stage1 || nestParent;
        TranslationGranule g = f.granule();
        int ias;
        int oas;
        if (!stage2) {
            ias = S1_INPUT_BITS;
            oas = f.ias;
        } else {
            ias = f.ias;
            oas = f.oas;
        }
        this.pageTable = new LpaeIoPageTable(smmu.memory, stage2, g, ias, oas, dirty, nestParent && f.fwb, f.pgsizeBitmap);
        this.tg = Long.numberOfTrailingZeros(pageTable.pgsizeBitmap);
        int a = 0;
        int v = 0;
        try {
            if (stage2) {
                v = smmu.allocVmid();
            } else {
                a = smmu.allocAsid();
            }
        } catch (ErrnoException e) {
            pageTable.free();
            throw e;
        }
        this.asid = a;
        this.vmid = v;
        pageTable.setWalkFlusher((iova, size) -> invalidateRange(iova, size, pageTable.granule.size(), false));
        this.geometry = DomainGeometry.of(0, (1L << ias) - 1, pageTable.pgsizeBitmap);
    }

    @Override
    public DomainType type() {
        return DomainType.PAGING;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public DomainGeometry geometry() {
        return geometry;
    }

    @Override
    public int allocFlags() {
        return flags;
    }

    void makeCd(long[] target, boolean stall) {
        EntryTargets.s1Cd(target, pageTable, asid, pageTable.dirtyQuirk, smmu.features.coherent, stall);
    }

    void makeSte(long[] target, boolean ats, boolean stall) {
        EntryTargets.s2DomainSte(target, pageTable, vmid, ats, nestParent && smmu.features.fwb,
                smmu.features.attrTypesOverride, smmu.features.coherent, stall);
    }

    synchronized void addMaster(SmmuMaster m) {
        if (CopyOnWriteArrays.indexOf(masters, m) < 0) {
            masters = CopyOnWriteArrays.appended(masters, m);
        }
    }

    synchronized void removeMaster(SmmuMaster m) {
        masters = CopyOnWriteArrays.removed(masters, m);
    }

    @Override
    public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        return pageTable.map(iova, paddr, pgsize, pgcount, prot);
    }

    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        return pageTable.unmap(iova, pgsize, pgcount, gather, gatherer);
    }

    /**
     * {@code count} x {@code iommu_iotlb_gather_add_page}: syncs first when the first page does not extend the
     * gather (the following pages are adjacent and of the same size, so they never need one), then widens the
     * range over all of them.
     */
    private void gatherPages(IotlbGather gather, long iova, long size, long count) {
        if (!gather.queued() && gather.needsSyncBefore(iova, size)) {
            iotlbSync(gather);
            gather.reset();
        }
        gather.addPage(iova, size);
        if (count > 1) {
            gather.addRange(iova + size, (count - 1) * size);
        }
    }

    @Override
    public void iotlbSync(IotlbGather gather) {
        if (!gather.isEmpty()) {
            long granule = gather.pgsize() != 0 ? gather.pgsize() : pageTable.granule.size();
            invalidateRange(gather.start(), gather.end() - gather.start() + 1, granule, gather.freelistSize() == 0);
        }
        gather.drainFreelist(smmu.memory.frames());
    }

    @Override
    public void flushIotlbAll() {
        CommandQueue.Batch b = smmu.cmdq.batch();
        addContextInvalidation(b);
        b.sync();
        addAtcInvalidations(0, 0, b);
    }

    private void addContextInvalidation(CommandQueue.Batch b) {
        if (stage2) {
            Command.tlbiS12Vmall(b.cmd, vmid);
        } else {
            Command.tlbiNhAsid(b.cmd, 0, asid);
        }
        b.add(b.cmd);
    }

    /** {@code arm_smmu_tlb_inv_range_domain}: allocation-free. */
    void invalidateRange(long iova, long size, long granule, boolean leaf) {
        SmmuFeatures f = smmu.features;
        CommandQueue.Batch b = smmu.cmdq.batch(); // this thread's (Linux builds the batch on the stack)
        long[] cmd = b.cmd;
        {
            int op = stage2 ? Command.OP_TLBI_S2_IPA : Command.OP_TLBI_NH_VA;
            if (!f.rangeInvalidation && size / granule >= MAX_TLBI_OPS) {
                addContextInvalidation(b);
            } else if (f.rangeInvalidation) {
                long numPages = size >>> tg;
                int ttl = 0;
                if (leaf) {
                    ttl = leafTtl(tg, 63 - Long.numberOfLeadingZeros(granule));
                } else if ((numPages & Command.TLBI_RANGE_NUM_MAX) == 1) {
                    numPages++;
                }
                int tgField = (tg - 10) / 2;
                long va = iova;
                long end = iova + size;
                while (Long.compareUnsigned(va, end) < 0 && numPages > 0) {
                    int scale = Long.numberOfTrailingZeros(numPages);
                    long num = (numPages >>> scale) & Command.TLBI_RANGE_NUM_MAX;
                    Command.tlbiAddress(cmd, op, vmid, asid, va, leaf, tgField, ttl, scale, (int) num - 1);
                    b.add(cmd);
                    va += num << (scale + tg);
                    numPages -= num << scale;
                }
            } else {
                for (long va = iova; Long.compareUnsigned(va, iova + size) < 0; va += granule) {
                    Command.tlbiAddress(cmd, op, vmid, asid, va, leaf, 0, 0, 0, 0);
                    b.add(cmd);
                }
            }
            if (nestParent) {
                // the combined stage-1+2 entries of nested domains are not covered by TLBI_S2_IPA
                Command.tlbiNhAll(cmd, vmid);
                b.add(cmd);
            }
            b.sync();
            addAtcInvalidations(iova, size, b);
        }
    }

    /**
     * The TTL of a leaf range invalidation of pages of {@code 2^log2Granule} bytes in a table of translation granule
     * {@code 2^tg}: {@code 4 - (log2 - 3) / (tg - 3)}, the level of such a leaf (a granule of {@code 2^tg} resolves
     * {@code tg - 3} bits per level), as {@code arm_smmu_tlb_inv_range_cmd} computes it; the division by each
     * granule's constant spelt out, so that the JIT turns it into a multiply.
     */
    static int leafTtl(int tg, int log2Granule) {
        int bits = log2Granule - 3;
        return switch (tg) {
            case 12 -> 4 - bits / 9;
            case 14 -> 4 - bits / 11;
            case 16 -> 4 - bits / 13;
            default -> 4 - bits / (tg - 3);
        };
    }

    /** {@code arm_smmu_atc_inv_domain}: device TLBs of ATS masters, after the IOTLB; one CMD_SYNC. */
    private void addAtcInvalidations(long iova, long size, CommandQueue.Batch b) {
        SmmuMaster[] ms = masters;
        boolean any = false;
        for (SmmuMaster m : ms) {
            if (m.ats) {
                m.addAtcInvalidations(this, iova, size, b.cmd, smmu.cmdq);
                any = true;
            }
        }
        if (any) {
            b.sync();
        }
    }

    @Override
    public long iovaToPhys(long iova) {
        long pa = pageTable.iovaToPhys(iova);
        return pa < 0 ? NO_TRANSLATION : pa;
    }

    @Override
    public boolean enforceCacheCoherency() {
        // arm_smmu_enforce_cache_coherency: every master must be behind a coherent SMMU
        coherencyEnforced = smmu.features.coherent;
        return coherencyEnforced;
    }

    @Override
    public void setDirtyTracking(boolean enable) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.notSupported("dirty tracking on a domain allocated without DIRTY_TRACKING");
        }
        // arm_smmu_set_dirty_tracking: HA/HD are always on in the CD; nothing to change in hardware
        dirtyTracking = enable;
    }

    @Override
    public void readAndClearDirty(long iova, long size, int dirtyFlags, DirtyRecorder dirty) {
        if ((flags & DomainAllocFlags.DIRTY_TRACKING) == 0) {
            throw ErrnoException.notSupported("read_and_clear_dirty on a domain allocated without DIRTY_TRACKING");
        }
        pageTable.readAndClearDirty(iova, size, (dirtyFlags & DIRTY_NO_CLEAR) == 0, dirty);
    }

    /** {@code device}'s master, checked to be probed by this driver and behind this domain's SMMU (EINVAL). */
    private SmmuMaster masterOnThisSmmu(DeviceHandle device) {
        SmmuMaster m = driver.master(device);
        if (m.smmu != smmu) {
            throw ErrnoException.of(Errno.EINVAL, "domain belongs to SMMU %s, device %s is behind %s",
                    smmu.name, device.function().address(), m.smmu.name);
        }
        return m;
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        SmmuMaster m = masterOnThisSmmu(device);
        m.attachPaging(this);
    }

    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        SmmuMaster m = masterOnThisSmmu(device);
        m.setPasid(this, pasid);
    }

    @Override
    public synchronized void free() {
        if (freed) {
            return;
        }
        freed = true;
        flushIotlbAll(); // the ASID/VMID may be reused: drop every cached translation tagged with it
        pageTable.free();
        if (stage2) {
            smmu.freeVmid(vmid);
        } else {
            smmu.freeAsid(asid);
        }
    }
}
