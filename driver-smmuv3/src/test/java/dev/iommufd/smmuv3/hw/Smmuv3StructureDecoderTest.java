package dev.iommufd.smmuv3.hw;

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
 * The SMMUv3 structure decoder on hand-computed bit vectors (SMMUv3 spec 5.2 STE, 5.4 CD, VMSAv8-64 descriptors),
 * independent of the driver: a linear stream table of 64 StreamIDs at 0x4000_0000, StreamID 3 with Config=0b101
 * (stage 1), a CD with T0SZ=16, TG0=4K, ASID 7, and a read-only 1 GiB block at level 1.
 */
class Smmuv3StructureDecoderTest {
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

    private static RegisterValues regs(long base, long cfg) {
        return new RegisterValues(List.of(new RegisterValues.Value(new RegisterInfo(0x80, "SMMU_STRTAB_BASE", 64), base),
                new RegisterValues.Value(new RegisterInfo(0x88, "SMMU_STRTAB_BASE_CFG", 32), cfg)));
    }

    @Test
    void foundByServiceLoaderForModelSmmuv3() {
        assertTrue(ServiceLoader.load(StructureDecoder.class).stream().anyMatch(p -> p.get().model().equals("smmuv3")));
    }

    @Test
    void linearStreamTableSteCdAndBlockDecodeFromRawWords() {
        long ste = 0x4000_0000L + 3 * 64;
        long cd = 0x4000_1000L;
        Words m = new Words()
                .put(ste, 0x4000_1000L | 5 << 1 | 1)   // S1ContextPtr, Config 0b101, V
                .put(cd, 16L | 1L << 30 | 1L << 31 | 1L << 41 | 1L << 45 | 1L << 46 | 1L << 47 | 7L << 48)
                .put(cd + 8, 0x4000_2000L)              // TTB0
                .put(0x4000_2000L, 0x4000_3000L | 3)    // L0[0]: table
                .put(0x4000_3008L, 0x8000_0000L | 1L << 10 | 1L << 7 | 1); // L1[1]: block, AF, AP[2] read-only
        DecodedNode dev = new Smmuv3StructureDecoder().decode(regs(0x4000_0000L, 6), m,
                List.of(new StructureDecoder.Device("0000:00:00.3", 3, 0))).child("0000:00:00.3");
        assertNotNull(dev);
        DecodedNode s = dev.child("STE[3]");
        assertEquals(ste, s.address());
        assertEquals(5, s.child("Config").value());
        assertEquals(0x4000_1000L >>> 6, s.child("S1ContextPtr").value());
        DecodedNode c = dev.child("CD[SSID 0]");
        assertEquals(16, c.child("T0SZ").value());
        assertEquals(7, c.child("ASID").value());
        assertEquals(1, c.child("EPD1").value());
        DecodedNode l1 = dev.child("stage-1 level-0 table").child("[0]").child("stage-1 level-1 table");
        DecodedNode block = l1.child("[1]");
        assertEquals("IOVA 0x40000000 -> PA 0x80000000, 1 GiB block, read-only", block.meaning());
        assertEquals(1, block.child("AF").value());
        assertEquals(2, block.child("AP[2:1]").value());
    }

    @Test
    void twoLevelTableWithoutL2IsReportedAsBadSte() {
        Words m = new Words().put(0x4000_0000L, 0);
        DecodedNode dev = new Smmuv3StructureDecoder().decode(regs(0x4000_0000L, 1 << 16 | 8 << 6 | 16), m,
                List.of(new StructureDecoder.Device("0000:01:00.0", 0x100, 0))).child("0000:01:00.0");
        DecodedNode l1 = dev.child("L1STD[1]");
        assertNotNull(l1, dev.children().toString());
        assertEquals("invalid: C_BAD_STE", l1.meaning());
    }
}
