package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotJson;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code iommufd-sim run} and {@code snapshot}: steps, expectations, and precise errors with line numbers. */
class RunCommandTest {
    static final String SETUP = """
            machine q35
            iommu dmar0 model=vtd preset=qemu
            device 0000:00:04.0 iommu=dmar0
            driver vtd
            process vmm
            mmap length=16K -> $buf
            VFIO_DEVICE_BIND_IOMMUFD device=0000:00:04.0 -> $dev
            IOMMU_IOAS_ALLOC -> $ioas
            """;

    private static CommandLineRun run(Path dir, String text, String... extra) throws Exception {
        Path f = dir.resolve("t.scn");
        Files.writeString(f, text);
        String[] args = new String[2 + extra.length];
        args[0] = "run";
        args[1] = f.toString();
        System.arraycopy(extra, 0, args, 2, extra.length);
        return CommandLineRun.of(args);
    }

    @Test
    void eachStepIsPrintedWithItsLineAndResult(@TempDir Path dir) throws Exception {
        CommandLineRun r = run(dir, SETUP + """
                IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE|WRITEABLE|FIXED_IOVA user_va=$buf length=16K iova=0x100000
                VFIO_DEVICE_ATTACH_IOMMUFD_PT dev_id=$dev pt_id=$ioas -> $hwpt
                write $buf+8 data="xyz"
                dma read 0000:00:04.0 iova=0x100008 data="xyz"
                IOMMU_IOAS_UNMAP ioas_id=$ioas iova=0x100000 length=16K
                dma read 0000:00:04.0 iova=0x100008 length=3 expect=FAULT
                """);
        assertEquals(ExitCode.OK, r.exitCode(), r.toString());
        assertTrue(r.out().contains("   8  IOMMU_IOAS_ALLOC               out_ioas_id=2 -> $ioas"), r.out());
        assertTrue(r.out().contains("  12  dma                            OK \"xyz\""), r.out());
        assertTrue(r.out().contains("  13  IOMMU_IOAS_UNMAP               length=0x4000"), r.out());
        assertTrue(r.out().contains("14 steps passed"), r.out());
    }

    @ParameterizedTest
    @CsvSource(delimiterString = " => ", value = {
        "IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE|FIXED_IOVA user_va=$buf length=0 iova=0x1000"
                + " => 9: IOMMU_IOAS_MAP failed: EINVAL",
        "IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE user_va=$buf length=4K expect=ENOENT"
                + " => 9: IOMMU_IOAS_MAP succeeded (iova=",
        "IOMMU_IOAS_MAP ioas_id=$nope flags=READABLE user_va=$buf length=4K"
                + " => 9: ioas_id=$nope: variable $nope is not set (set: $buf, $dev, $ioas)",
        "IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE|SHARED user_va=$buf length=4K"
                + " => 9: flags: unknown flag 'SHARED' (flags: FIXED_IOVA, READABLE, WRITEABLE, joined with |)",
        "IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE user_va=$buf size=4K"
                + " => 9: IOMMU_IOAS_MAP needs length=...",
        "IOMMU_IOAS_MAPP ioas_id=1 => 9: unknown command 'IOMMU_IOAS_MAPP'",
        "dma read 0000:00:04.0 iova=0x5000 length=8 => 9: DMA read at 0x5000 ended FAULT, expected OK",
        "dma read 0000:00:09.0 iova=0x5000 length=8 => 9: no device 0000:00:09.0 on the machine",
        "write $buf data=\"unterminated => 9: unterminated string",
        "device 0000:00:05.0 iommu=dmar0 => 9: 'device' describes the machine and must come before",
        "IOMMU_DESTROY id=$ioas expect=ENOENT => 9: IOMMU_DESTROY succeeded"})
    void aFailedStepStopsTheRunWithItsLineNumber(String line, String message, @TempDir Path dir) throws Exception {
        CommandLineRun r = run(dir, SETUP + line + "\nIOMMU_IOAS_ALLOC\n");
        assertEquals(ExitCode.FAILURE, r.exitCode(), r.toString());
        assertTrue(r.err().contains("t.scn:" + message), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertFalse(r.out().contains("  10  IOMMU_IOAS_ALLOC"), "the run stopped at the failure");
    }

    @Test
    void snapshotCommandExportsTheEndState(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.scn");
        Files.writeString(f, SETUP + """
                IOMMU_IOAS_MAP ioas_id=$ioas flags=READABLE|FIXED_IOVA user_va=$buf length=16K iova=0x100000
                VFIO_DEVICE_ATTACH_IOMMUFD_PT dev_id=$dev pt_id=$ioas
                """);
        Path out = dir.resolve("s.json");
        CommandLineRun r = CommandLineRun.of("snapshot", f.toString(), "--output", out.toString());
        assertEquals(ExitCode.OK, r.exitCode(), r.toString());
        MachineSnapshot s = SnapshotJson.read(Files.readString(out));
        assertEquals(16384, s.translations().stream().mapToLong(MachineSnapshot.Mapping::size).sum());
        assertTrue(s.translations().stream().allMatch(m -> m.read() && !m.write()), s.translations().toString());
        CommandLineRun toStdout = CommandLineRun.of("snapshot", f.toString());
        assertEquals(ExitCode.OK, toStdout.exitCode(), toStdout.toString());
        assertEquals(s, SnapshotJson.read(toStdout.out()));
    }

    @Test
    void missingFileAndArgumentsAreUsageErrors(@TempDir Path dir) {
        CommandLineRun r = CommandLineRun.of("run");
        assertEquals(ExitCode.USAGE, r.exitCode());
        assertTrue(r.err().contains("missing SCENARIO"), r.err());
        r = CommandLineRun.of("run", dir.resolve("none.scn").toString());
        assertEquals(ExitCode.USAGE, r.exitCode());
        assertTrue(r.err().endsWith("none.scn: no such file\n"), r.err());
    }
}
