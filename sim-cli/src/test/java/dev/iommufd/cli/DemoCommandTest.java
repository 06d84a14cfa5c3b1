package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotJson;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** {@code iommufd-sim demo}: the story succeeds on both QEMU-like machines and its snapshot reads back. */
class DemoCommandTest {

    @ParameterizedTest
    @CsvSource({"vtd,legacy,q35", "vtd,scalable,q35", "smmuv3,2-level,virt", "smmuv3,linear,virt"})
    void demoSucceedsAndWritesASnapshotThatReadsBack(String driver, String mode, String profile, @TempDir Path dir)
            throws Exception {
        Path out = dir.resolve("snap.json");
        CommandLineRun r = CommandLineRun.of("demo", "--driver", driver, "--mode", mode, "--snapshot", out.toString());
        assertEquals(ExitCode.OK, r.exitCode(), r.toString());
        assertTrue(r.out().contains("DMA read of 8 bytes at IOVA 0x20000000 (never mapped): FAULT"), r.out());
        assertTrue(r.out().contains("in a 2 MiB page"), "the huge page is one 2 MiB entry:\n" + r.out());
        assertTrue(r.out().contains("\"hello, device: this line was written by the process\""), r.out());
        MachineSnapshot s = SnapshotJson.read(Files.readString(out));
        assertEquals(profile, s.profile());
        assertFalse(s.frames().isEmpty());
        // the translations are the two IOAS_MAPs: 64 KiB of 4 KiB pages (runs) and one 2 MiB contiguous run
        long total = s.translations().stream().mapToLong(MachineSnapshot.Mapping::size).sum();
        assertEquals(DemoStory.SMALL_SIZE + DemoStory.HUGE_SIZE, total);
        assertTrue(s.translations().stream().anyMatch(m -> m.iova() == DemoStory.HUGE_IOVA && m.size() == DemoStory.HUGE_SIZE
                && (m.pa() & (DemoStory.HUGE_SIZE - 1)) == 0), s.translations().toString());
        assertTrue(s.translations().stream().allMatch(m -> m.bdf().equals("0000:00:04.0") && m.read() && m.write()
                && m.pasid() == MachineSnapshot.NO_PASID));
    }

    /** The fault is reported as the hardware recorded it: VT-d fault record for SID 0x20, SMMUv3 F_TRANSLATION event. */
    @Test
    void theFaultIsDecodedFromTheUnitsRecord() {
        CommandLineRun vtd = CommandLineRun.of("demo");
        assertTrue(vtd.out().contains("FRCD_REG0_HI decoded: SID=0x20 "), vtd.out());
        assertTrue(vtd.out().contains("T=1 (read)"), vtd.out());
        CommandLineRun smmu = CommandLineRun.of("demo", "--driver", "smmuv3");
        assertTrue(smmu.out().contains("F_TRANSLATION: EventID=0x10 SID=0x20 "), smmu.out());
        assertTrue(smmu.out().contains("RnW=1"), smmu.out());
        assertTrue(smmu.out().contains("InputAddr=0x20000000"), smmu.out());
    }

    @Test
    void unknownDriverAndModeAreUsageErrors() {
        CommandLineRun r = CommandLineRun.of("demo", "--driver", "nosuch");
        assertEquals(ExitCode.USAGE, r.exitCode(), r.toString());
        assertTrue(r.err().startsWith("iommufd-sim demo: --driver nosuch: "), r.err());
        r = CommandLineRun.of("demo", "--mode", "turbo");
        assertEquals(ExitCode.USAGE, r.exitCode(), r.toString());
        assertTrue(r.err().contains("--mode turbo: vtd has legacy and scalable"), r.err());
    }

    @Test
    void helpDescribesTheStory() {
        CommandLineRun r = CommandLineRun.of("demo", "--help");
        assertEquals(ExitCode.OK, r.exitCode());
        assertTrue(r.out().startsWith("Usage: iommufd-sim demo [--driver ID]"), r.out());
    }
}
