package dev.iommufd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotDecoding;
import dev.iommufd.snapshot.SnapshotJson;
import dev.iommufd.spi.hw.DecodedNode;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code iommufd-sim decode}: the demo's snapshots (QEMU-like q35 with VT-d in legacy and scalable mode, virt with
 * SMMUv3 and a 2-level or linear stream table) decode from their own registers and memory, and the page-table
 * leaves the decoder finds in memory agree with the translations iommufd's state recorded (two independent
 * sources: the IOAS areas and pinned PFNs versus the tables the driver wrote).
 */
class DecodeCommandTest {
    private static final Pattern LEAF = Pattern.compile("IOVA (0x[0-9a-f]+) -> PA (0x[0-9a-f]+), (\\d+) (KiB|MiB|GiB) (page|block)");

    @ParameterizedTest
    @CsvSource({
        "vtd,legacy,context entry,second-stage level-4 table",
        "vtd,scalable,PASID table entry[RID_PASID 0],second-stage level-4 table",
        "smmuv3,2-level,STE[32],stage-1 level-0 table",
        "smmuv3,linear,STE[32],stage-1 level-0 table"})
    void demoSnapshotDecodesAndItsTablesReachWhatIommufdMapped(String driver, String mode, String entry, String top,
            @TempDir Path dir) throws Exception {
        Path snap = dir.resolve("s.json");
        Path svg = dir.resolve("t.svg");
        assertEquals(ExitCode.OK, CommandLineRun.of("demo", "--driver", driver, "--mode", mode, "--snapshot", snap.toString())
                .exitCode());
        CommandLineRun r = CommandLineRun.of("decode", snap.toString(), "--svg", svg.toString());
        assertEquals(ExitCode.OK, r.exitCode(), r.toString());
        assertTrue(r.out().contains(entry), r.out());
        assertTrue(r.out().contains(top), r.out());

        MachineSnapshot s = SnapshotJson.read(Files.readString(snap));
        List<DecodedNode> units = SnapshotDecoding.decode(s, getClass().getClassLoader());
        DecodedNode device = findGroup(units.get(0), "0000:00:04.0");
        assertNotNull(device, "a group for the demo device");
        List<long[]> leaves = new ArrayList<>();
        collectLeaves(device, leaves);
        // every byte iommufd says the device reaches is reached by exactly one leaf with the same PA
        for (MachineSnapshot.Mapping m : s.translations()) {
            for (long off = 0; off < m.size(); off += 4096) {
                long iova = m.iova() + off;
                long pa = -1;
                for (long[] l : leaves) {
                    if (iova >= l[0] && iova < l[0] + l[2]) {
                        pa = l[1] + (iova - l[0]);
                    }
                }
                assertEquals(m.pa() + off, pa, String.format("IOVA %#x", iova));
            }
        }
        assertTrue(leaves.stream().anyMatch(l -> l[0] == DemoStory.HUGE_IOVA && l[2] == DemoStory.HUGE_SIZE),
                "the huge page is one 2 MiB leaf");
        long mapped = s.translations().stream().mapToLong(MachineSnapshot.Mapping::size).sum();
        assertEquals(mapped, leaves.stream().mapToLong(l -> l[2]).sum(), "no leaf beyond what iommufd mapped");

        String picture = Files.readString(svg);
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(picture.getBytes(StandardCharsets.UTF_8)));
        assertEquals("svg", doc.getDocumentElement().getNodeName());
        // one box per table of the tree: 4 levels down to the 4 KiB leaves, plus the level-2 table of the huge page
        assertEquals(5, doc.getElementsByTagName("g").getLength(), picture);
        assertEquals(4, doc.getElementsByTagName("line").getLength(), "an arrow per table pointer");
    }

    private static DecodedNode findGroup(DecodedNode n, String name) {
        if (n.kind() == DecodedNode.Kind.GROUP && n.name().equals(name)) {
            return n;
        }
        for (DecodedNode c : n.children()) {
            DecodedNode f = findGroup(c, name);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    private static void collectLeaves(DecodedNode n, List<long[]> out) {
        if (n.kind() == DecodedNode.Kind.ENTRY) {
            Matcher m = LEAF.matcher(n.meaning());
            if (m.find()) {
                long unit = switch (m.group(4)) {
                    case "KiB" -> 1L << 10;
                    case "MiB" -> 1L << 20;
                    default -> 1L << 30;
                };
                out.add(new long[] {Long.decode(m.group(1)), Long.decode(m.group(2)), Long.parseLong(m.group(3)) * unit});
            }
        }
        for (DecodedNode c : n.children()) {
            collectLeaves(c, out);
        }
    }

    @Test
    void badInputIsAPreciseUsageError(@TempDir Path dir) throws Exception {
        CommandLineRun r = CommandLineRun.of("decode");
        assertEquals(ExitCode.USAGE, r.exitCode());
        assertEquals("iommufd-sim decode: missing SNAPSHOT (a snapshot JSON file)\n", r.err().replace("\r\n", "\n"));
        r = CommandLineRun.of("decode", dir.resolve("nope.json").toString());
        assertEquals(ExitCode.USAGE, r.exitCode());
        assertTrue(r.err().endsWith("nope.json: no such file\n"), r.err());
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"schema\": \"iommufd-sim.snapshot/1\",\n \"machine\": [}");
        r = CommandLineRun.of("decode", bad.toString());
        assertEquals(ExitCode.USAGE, r.exitCode());
        assertTrue(r.err().contains("bad.json: not a valid snapshot: line 2, column 14: unexpected character '}'"), r.err());
        assertTrue(!r.err().contains("Exception"), r.err());
    }

    @Test
    void snapshotWithAnUnknownModelSaysThereIsNoDecoder(@TempDir Path dir) throws Exception {
        Path snap = dir.resolve("s.json");
        assertEquals(ExitCode.OK, CommandLineRun.of("demo", "--snapshot", snap.toString()).exitCode());
        Files.writeString(snap, Files.readString(snap).replace("\"model\": \"vtd\"", "\"model\": \"acme\""));
        CommandLineRun r = CommandLineRun.of("decode", snap.toString());
        assertEquals(ExitCode.FAILURE, r.exitCode(), r.toString());
        assertTrue(r.out().contains("! decoder: no structure decoder for model 'acme' on the class path"), r.out());
    }
}
