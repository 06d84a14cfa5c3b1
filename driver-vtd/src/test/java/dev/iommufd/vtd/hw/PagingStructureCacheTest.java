package dev.iommufd.vtd.hw;

import static dev.iommufd.vtd.layout.VtdRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.ContextEntry;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import dev.iommufd.vtd.layout.SecondStagePte;
import org.junit.jupiter.api.Test;

/**
 * The unit's second-stage paging-structure caches in legacy mode (VT-d spec 6.2.4 PDE/PDPE caches, 6.5.1.2 and
 * 6.5.2.3 IOTLB invalidation with the invalidation hint, 6.5.2.1 context-cache invalidation). Each test changes a
 * non-leaf entry in memory without telling the unit: a translation that still follows the old entry proves the
 * cached one was used; one that follows the new entry proves it was dropped.
 */
class PagingStructureCacheTest {
    static final long RW = SecondStagePte.R | SecondStagePte.W;
    static final int RID = LegacyTables.RID;
    static final int DID = 7;

    final ModelBench b = new ModelBench("qemu");
    final LegacyTables t = new LegacyTables(b);

    PagingStructureCacheTest() {
        t.context(RID, ContextEntry.TT_MULTI_LEVEL, 2, DID, false);
        b.enable(t.root, false);
    }

    /** Maps 0x1000 -> 0x2000, translates it (filling IOTLB, PDE and PDPE caches), then points its PDE at a new table mapping 0x1000 -> 0x9000. */
    private void fillThenRedirectPde() {
        t.map(0x1000, 0x2000, 1, RW);
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        long fresh = b.frame();
        b.mem.write64(fresh + SecondStagePte.index(0x1000, 1) * 8L, SecondStagePte.leaf(0x9000, 1, RW));
        b.mem.write64(LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 2), SecondStagePte.table(fresh));
    }

    private void registerPsi(long addr, boolean ih) {
        b.w64(b.iro() + IVA_OFFSET, iva(addr, ih, 0));
        b.w64(b.iro() + IOTLB_OFFSET, iotlbCommand(IOTLB_PAGE, DID));
    }

    @Test
    void pageSelectiveWithIhSetKeepsThePdeAndWithIhClearDropsIt() {
        fillThenRedirectPde();
        registerPsi(0x1000, true);
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress(), "IH = 1: the miss walks from the cached PDE");
        registerPsi(0x1000, false);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress(), "IH = 0: the PDE was dropped");
    }

    @Test
    void pageSelectiveOfAnotherRegionOrDomainKeepsThePde() {
        fillThenRedirectPde();
        registerPsi(0x1000, true); // drop only the leaf
        registerPsi(0x40_0000, false); // another 2 MiB region
        b.w64(b.iro() + IVA_OFFSET, iva(0x1000, false, 0));
        b.w64(b.iro() + IOTLB_OFFSET, iotlbCommand(IOTLB_PAGE, DID + 1)); // another domain
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        registerPsi(0x1f_f000, false); // a page elsewhere in the same 2 MiB region: the PDE covers it
        registerPsi(0x1000, true);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
    }

    @Test
    void queuedPageSelectiveHonoursTheHintToo() {
        fillThenRedirectPde();
        long q = b.enableQueue(false);
        b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, DID),
                InvalidationDescriptor.addressHi(0x1000, true, 0));
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DEVICE_OR_PAGE, DID),
                InvalidationDescriptor.addressHi(0x1000, false, 0));
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
    }

    @Test
    void domainSelectiveInvalidationDropsThem() {
        fillThenRedirectPde();
        b.w64(b.iro() + IOTLB_OFFSET, iotlbCommand(IOTLB_DOMAIN, DID));
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
    }

    @Test
    void queuedGlobalInvalidationDropsThem() {
        fillThenRedirectPde();
        long q = b.enableQueue(false);
        b.submit(q, false, InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_GLOBAL, 0), 0);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
    }

    @Test
    void contextCacheInvalidationDropsThem() {
        fillThenRedirectPde();
        registerPsi(0x1000, true); // the leaf goes, the PDE stays (previous tests)
        b.w64(CCMD_REG, CCMD_ICC | ((long) CCMD_DOMAIN << CCMD_CIRG_SHIFT) | DID);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress());
    }

    /** A PDPE-cache hit: a new 2 MiB region under a cached PDPE is reached although the PML4E no longer leads there. */
    @Test
    void pdpeCacheServesANewRegionOfTheSameGigabyteUntilDomainInvalidation() {
        t.map(0x1000, 0x2000, 1, RW);
        assertEquals(0x2000L, b.read(RID, 0x1000).physicalAddress());
        t.map(0x20_1000, 0x5000, 1, RW); // a second PDE in the same page directory
        long pml4e = LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 4);
        b.mem.write64(pml4e, SecondStagePte.table(b.frame())); // an empty PDPT
        assertEquals(0x5000L, b.read(RID, 0x20_1000).physicalAddress(), "walked from the cached PDPE");
        b.w64(b.iro() + IOTLB_OFFSET, iotlbCommand(IOTLB_DOMAIN, DID));
        Translation tr = b.read(RID, 0x20_1000);
        assertFalse(tr.isOk(), "from the root the PDPT is empty");
    }

    @Test
    void aFaultBelowACachedPdeIsReportedByTheFullWalk() {
        fillThenRedirectPde();
        registerPsi(0x1000, false);
        assertEquals(0x9000L, b.read(RID, 0x1000).physicalAddress()); // PDE of the new table cached
        b.mem.write64(LegacyTables.entryAddress(b, t.pgd, 4, 0x1000, 1), 0);
        registerPsi(0x1000, true);
        Translation tr = b.read(RID, 0x1000);
        assertEquals(Translation.FAULT, tr.status());
        assertTrue(b.r32(FSTS_REG) != 0, "the fault was recorded");
    }
}
