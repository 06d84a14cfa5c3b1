package dev.iommufd.vtd;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.CopyOnWriteArrays;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import java.util.Arrays;

/**
 * The common part of every VT-d domain: the driver, and the cache tags and per-unit domain IDs of the devices
 * and PASIDs attached to it.
 *
 * <p>Lock: the domain's monitor guards {@link #tags} (copy-on-write, so flushes read it without locking) and the
 * domain-ID table.
 */
abstract class VtdDomain implements IommuDomain {
    final VtdDriver driver;
    /** Read without locking by flushes; replaced whole under the domain's monitor. */
    volatile CacheTag[] tags = new CacheTag[0];
    private DmarUnit[] didUnits = new DmarUnit[0];
    private int[] dids = new int[0];
    private int[] didRefs = new int[0];

    VtdDomain(VtdDriver driver) {
        this.driver = driver;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    VtdDevice device(DeviceHandle handle) {
        if (!(handle instanceof VtdDevice) || ((VtdDevice) handle).driver != driver) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: device %s was not probed by this driver", handle);
        }
        return (VtdDevice) handle;
    }

    /** The domain's ID on {@code unit}, allocated on first use and counted (Linux domain_attach_iommu). */
    synchronized int acquireDid(DmarUnit unit) {
        for (int i = 0; i < didUnits.length; i++) {
            if (didUnits[i] == unit) {
                didRefs[i]++;
                return dids[i];
            }
        }
        int did = unit.allocateDid();
        int n = didUnits.length;
        didUnits = Arrays.copyOf(didUnits, n + 1);
        dids = Arrays.copyOf(dids, n + 1);
        didRefs = Arrays.copyOf(didRefs, n + 1);
        didUnits[n] = unit;
        dids[n] = did;
        didRefs[n] = 1;
        return did;
    }

    synchronized void releaseDid(DmarUnit unit) {
        for (int i = 0; i < didUnits.length; i++) {
            if (didUnits[i] == unit) {
                if (--didRefs[i] == 0) {
                    unit.freeDid(dids[i]);
                    int n = didUnits.length - 1;
                    didUnits[i] = didUnits[n];
                    dids[i] = dids[n];
                    didRefs[i] = didRefs[n];
                    didUnits = Arrays.copyOf(didUnits, n);
                    dids = Arrays.copyOf(dids, n);
                    didRefs = Arrays.copyOf(didRefs, n);
                }
                return;
            }
        }
    }

    synchronized void addTag(CacheTag tag) {
        tags = CopyOnWriteArrays.appended(tags, tag);
    }

    /** Removes the tag of (device, pasid) and releases its DID reference; called when the attachment moves away. */
    synchronized void detach(VtdDevice device, int pasid) {
        CacheTag[] t = tags;
        for (int i = 0; i < t.length; i++) {
            if (t[i].device == device && t[i].pasid == pasid) {
                tags = CopyOnWriteArrays.removedAt(t, i);
                releaseDid(device.unit);
                return;
            }
        }
    }

    /**
     * The last step of attaching the device's requests without PASID (RID, PASID 0 of a scalable-mode table) after
     * its entry points here: {@code old} (the previous RID domain, or null) drops its tag and DID reference, and
     * this becomes {@link VtdDevice#domain}. Caller holds {@link VtdDriver#configLock}.
     */
    final void becomeRidDomain(VtdDevice device, VtdDomain old) {
        if (old != null) {
            old.detach(device, 0);
        }
        device.domain = this;
    }

    /**
     * The last step of attaching {@code pasid} of the device after its PASID entry points here: {@code old} (the
     * PASID's previous domain, or null) drops its tag and DID reference, and this is recorded in
     * {@link VtdDevice#pasidDomains}. Caller holds {@link VtdDriver#configLock}.
     */
    final void becomePasidDomain(VtdDevice device, int pasid, VtdDomain old) {
        if (old != null) {
            old.detach(device, pasid);
        }
        device.pasidDomains.put(pasid, this);
    }

    boolean attached() {
        return tags.length != 0;
    }

    /**
     * Linux calculate_psi_aligned_address: the AM (address mask) of the smallest naturally aligned power-of-two
     * page range covering {@code [start, end]}.
     */
    static int psiMask(long start, long end) {
        long pages = ((end >>> 12) - (start >>> 12)) + 1;
        long aligned = pages <= 1 ? 1 : Long.highestOneBit(pages - 1) << 1;
        int mask = Long.numberOfTrailingZeros(aligned);
        long pfn = start >>> 12;
        long bitmask = aligned - 1;
        if ((bitmask & pfn) != 0) {
            long endPfn = pfn + pages - 1;
            long shared = ~(pfn ^ endPfn) & ~bitmask;
            mask = shared != 0 ? Long.numberOfTrailingZeros(shared) : DmarUnit.MAX_AGAW_PFN_WIDTH;
        }
        return mask;
    }

    static long psiAddress(long start, int mask) {
        return mask >= 52 ? 0 : start & -(4096L << mask);
    }
}
