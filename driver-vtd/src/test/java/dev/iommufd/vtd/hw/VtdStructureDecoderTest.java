package dev.iommufd.vtd.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * The VT-d structure decoder on hand-computed bit vectors (VT-d spec 9.1 root entry, 9.3 context entry, 9.8
 * second-stage paging entries), independent of the driver: a legacy root table at 0x1000, bus 0's context table
 * at 0x2000, device 00:04.0 (devfn 0x20) with AW=2 (4-level), DID 5, and a read-only 2 MiB leaf.
 */
class VtdStructureDecoderTest {
    /** Sparse memory: the words written, in the frames listed. */
    static final class Words implements MemoryView {
        final Map<Long, Long> words = new HashMap<>();

        Words put(long pa, long v) {
            words.put(pa, v);
            return this;
        }

        @Override
        public boolean contains(long pa) {
            return words.keySet().stream().anyMatch(a -> (a & -4096L) == (pa & -4096L));
        }

        @Override
        public long read64(long pa) {
            return words.getOrDefault(pa, 0L);
        }
    }

    private static RegisterValues regs(long rtaddr, long gsts) {
        return new RegisterValues(List.of(new RegisterValues.Value(new RegisterInfo(0x1c, "GSTS_REG", 32), gsts),
                new RegisterValues.Value(new RegisterInfo(0x20, "RTADDR_REG", 64), rtaddr)));
    }

    @Test
    void foundByServiceLoaderForModelVtd() {
        assertTrue(ServiceLoader.load(StructureDecoder.class).stream().anyMatch(p -> p.get().model().equals("vtd")));
    }

    @Test
    void legacyWalkDecodesEveryFieldFromRawWords() {
        Words m = new Words()
                .put(0x1000, 0x2001L)                 // root entry bus 0: CTP 0x2000, P
                .put(0x2200, 0x3001L)                 // context entry devfn 0x20 lo: SLPTPTR 0x3000, TT 0, P
                .put(0x2208, 0x0502L)                 // hi: DID 5 (bits 23:8), AW 2 (bits 2:0)
                .put(0x3000, 0x4003L)                 // L4[0] -> 0x4000, R W
                .put(0x4008, 0x5003L)                 // L3[1] (IOVA 1 GiB) -> 0x5000
                .put(0x5010, 0x80_0000L | 0x80 | 1);  // L2[2] (IOVA 1 GiB + 4 MiB): PS, R only, PA 8 MiB
        DecodedNode u = new VtdStructureDecoder().decode(regs(0x1000, 0xc000_0000L), m,
                List.of(new StructureDecoder.Device("0000:00:04.0", 0x20, 0)));
        DecodedNode dev = u.child("0000:00:04.0");
        assertNotNull(dev);
        DecodedNode ce = dev.child("context entry");
        assertEquals(0x2200, ce.address());
        assertEquals(5, ce.child("DID").value());
        assertEquals(2, ce.child("AW").value());
        assertEquals(0, ce.child("TT").value());
        assertEquals(3, ce.child("SLPTPTR").value());
        DecodedNode l4 = dev.child("second-stage level-4 table");
        assertEquals(0x3000, l4.address());
        DecodedNode l2 = l4.child("[0]").child("second-stage level-3 table").child("[1]").child("second-stage level-2 table");
        DecodedNode leaf = l2.child("[2]");
        assertEquals(0x5010, leaf.address());
        assertEquals("IOVA 0x40400000 -> PA 0x800000, 2 MiB page, R-", leaf.meaning());
        assertEquals(1, leaf.child("PS").value());
        assertEquals(0, leaf.child("W").value());
    }

    @Test
    void notPresentContextEntryIsReportedNotWalked() {
        Words m = new Words().put(0x1000, 0x2001L).put(0x2000, 0);
        DecodedNode dev = new VtdStructureDecoder().decode(regs(0x1000, 0xc000_0000L), m,
                List.of(new StructureDecoder.Device("0000:00:04.0", 0x20, 0))).child("0000:00:04.0");
        assertTrue(dev.child("context entry").meaning().startsWith("not present"));
        assertEquals(1, dev.children().size());
    }

    @Test
    void scalableModeFollowsPasidDirectoryAndTable() {
        Words m = new Words()
                .put(0x1000, 0x2001L)                       // root lo: LCTP 0x2000
                .put(0x2000 + 0x20 * 32, 0x3000L | 2 << 9 | 1) // scalable context: PASIDDIRPTR 0x3000, PDTS 2, P
                .put(0x2000 + 0x20 * 32 + 8, 0L)            // RID_PASID 0
                .put(0x3000, 0x4001L)                       // PASID dir[0] -> table 0x4000
                .put(0x4000, 0x5000L | 2 << 6 | 2 << 2 | 1) // PASID entry 0: SSPTPTR 0x5000, PGTT 2, AW 2, P
                .put(0x4008, 7L)                            // DID 7
                .put(0x5000, 0);
        DecodedNode dev = new VtdStructureDecoder().decode(regs(0x1000L | 1 << 10, 0xc000_0000L), m,
                List.of(new StructureDecoder.Device("0000:00:04.0", 0x20, 0))).child("0000:00:04.0");
        DecodedNode pte = dev.child("PASID table entry[RID_PASID 0]");
        assertNotNull(pte, dev.children().toString());
        assertEquals(2, pte.child("PGTT").value());
        assertEquals("second-stage only", pte.child("PGTT").meaning());
        assertEquals(7, pte.child("DID").value());
        assertEquals(0x5000, dev.child("second-stage level-4 table").address());
    }
}
