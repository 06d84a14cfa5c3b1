package dev.iommufd.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.tck.rules.RuleCatalog;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The launcher: output format, exit status, and the report files. */
class TckLauncherTest {

    private static final Pattern SUMMARY = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed, (\\d+) skipped$");

    record Run(int exit, String out, String err) {
        String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    static Run launch(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = TckLauncher.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void listRulesPrintsTheWholeCatalogue() {
        Run r = launch("--list-rules");
        assertEquals(0, r.exit());
        for (Rule rule : RuleCatalog.all()) {
            assertTrue(r.out().contains(rule.id() + " "), "catalogue lacks " + rule.id());
            assertTrue(r.out().contains(rule.reference()), "catalogue lacks the reference of " + rule.id());
        }
        assertTrue(r.out().startsWith(RuleCatalog.all().size() + " rules ("), r.out().lines().findFirst().orElse(""));
        Run md = launch("--list-rules", "--markdown");
        assertTrue(md.out().contains("| MAP-5 | REQUIRED |"), md.out());
    }

    @Test
    void mockRunPassesWritesReportsAndEndsWithTheSummary(@TempDir Path dir) throws Exception {
        Run r = launch("--driver", "mock", "--report", dir.toString());
        assertEquals(0, r.exit(), r.out());
        Matcher m = SUMMARY.matcher(r.lastLine());
        assertTrue(m.matches(), "last line must be the summary alone: '" + r.lastLine() + "'");
        int passed = Integer.parseInt(m.group(1));
        int skipped = Integer.parseInt(m.group(3));
        assertEquals(0, Integer.parseInt(m.group(2)));
        assertEquals(RuleCatalog.all().size(), passed + skipped);
        assertTrue(r.err().contains("tck: [mock   1/" + RuleCatalog.all().size() + "] DISC-1"), "progress per rule on stderr");
        assertTrue(r.out().contains("PASS DISC-1"), r.out());

        Path xml = dir.resolve("TEST-tck-mock.xml");
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(xml.toFile());
        Element suite = doc.getDocumentElement();
        assertEquals("testsuite", suite.getTagName());
        assertEquals("tck.mock", suite.getAttribute("name"));
        assertEquals(String.valueOf(RuleCatalog.all().size()), suite.getAttribute("tests"));
        assertEquals("0", suite.getAttribute("failures"));
        assertEquals(String.valueOf(skipped), suite.getAttribute("skipped"));
        NodeList cases = doc.getElementsByTagName("testcase");
        assertEquals(RuleCatalog.all().size(), cases.getLength());
        assertEquals(skipped, doc.getElementsByTagName("skipped").getLength());

        String html = Files.readString(dir.resolve("tck-report.html"));
        assertTrue(html.contains("<code>MAP-5</code>") && html.contains(r.lastLine()), "HTML report has rules and the summary");
        String text = Files.readString(dir.resolve("tck-report.txt"));
        assertEquals(r.out(), text, "the text report file is what stdout showed");
    }

    @Test
    void requiredFailureExitsNonZeroWithTheMessage(@TempDir Path dir) throws Exception {
        Run r = launch("--driver", "broken-noinval", "--driver=mock", "--report=" + dir);
        assertEquals(1, r.exit());
        Matcher m = SUMMARY.matcher(r.lastLine());
        assertTrue(m.matches(), r.lastLine());
        assertTrue(Integer.parseInt(m.group(2)) > 0);
        assertTrue(r.out().contains("FAIL TLB-2"), r.out());
        assertTrue(r.out().contains("failure: DMA write after unmap + iotlbSync"), r.out());
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(dir.resolve("TEST-tck-broken-noinval.xml").toFile());
        NodeList failures = doc.getElementsByTagName("failure");
        assertTrue(failures.getLength() > 0);
        boolean tlb2 = false;
        for (int i = 0; i < failures.getLength(); i++) {
            Element tc = (Element) failures.item(i).getParentNode();
            tlb2 |= tc.getAttribute("name").startsWith("TLB-2 ") && ((Element) failures.item(i)).getAttribute("type").equals("REQUIRED");
        }
        assertTrue(tlb2, "TLB-2 is a REQUIRED failure in the JUnit XML");
        assertTrue(Files.exists(dir.resolve("TEST-tck-mock.xml")), "one XML file per driver");
        assertTrue(Files.readString(dir.resolve("tck-report.html")).contains("class=\"FAILED\""));
    }

    @Test
    void optionalFailureAloneExitsZero() {
        Run r = launch("--driver", "broken-optional");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains("FAIL MAP-13   OPTIONAL"), r.out());
        Matcher m = SUMMARY.matcher(r.lastLine());
        assertTrue(m.matches() && m.group(2).equals("1"), r.lastLine());
    }

    @Test
    void unknownDriverAndBadArgumentsAreUsageErrors() {
        Run unknown = launch("--driver", "no-such-driver");
        assertEquals(2, unknown.exit());
        assertTrue(unknown.err().contains("no-such-driver") && unknown.err().contains("mock"), unknown.err());
        Run bad = launch("--frobnicate");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("unknown argument '--frobnicate'") && bad.err().contains("usage:"), bad.err());
        Run missing = launch("--report");
        assertEquals(2, missing.exit());
        assertTrue(missing.err().contains("--report needs a value"), missing.err());
    }

    /** --machine-preset switches the driver's units (only those) of the reference machine to the preset. */
    @Test
    void machinePresetSwitchesTheDriversUnits() {
        assertEquals("qemu", TckOptions.parse("--machine-preset", "qemu").machinePreset());
        assertEquals("qemu", TckOptions.parse("--machine-preset=qemu").machinePreset());
        assertEquals(null, TckOptions.parse("--driver", "mock").machinePreset());
        dev.iommufd.platform.MachineConfig ref = new dev.iommufd.mock.MockIommuProvider().referenceMachine().orElseThrow();
        dev.iommufd.platform.MachineConfig cfg = new dev.iommufd.platform.MachineConfig(ref.profile(), ref.ramSize(),
                java.util.List.of(ref.iommus().get(0), dev.iommufd.platform.IommuUnitConfig.of("other0", "vtd", "server")),
                ref.devices());
        dev.iommufd.platform.MachineConfig q = TckTarget.withPreset(cfg, java.util.Set.of("mock"), "qemu");
        assertEquals("qemu", q.iommus().get(0).preset());
        assertEquals("server", q.iommus().get(1).preset(), "units of other models keep their preset");
        assertEquals(ref.devices(), q.devices());
        assertEquals(ref.ramSize(), q.ramSize());
    }

    /** A preset the driver's hardware model lacks cannot build the machine: every machine rule fails, exit status 1. */
    @Test
    void unknownMachinePresetFailsTheRun() {
        Run r = launch("--driver", "mock", "--machine-preset", "no-such-preset");
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("mock0=mock/no-such-preset"), "progress names the machine: " + r.err());
        assertTrue(r.out().contains("cannot be built"), r.out());
    }
}
