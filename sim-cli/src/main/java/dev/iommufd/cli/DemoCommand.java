package dev.iommufd.cli;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.snapshot.SnapshotJson;
import dev.iommufd.spi.IommuDriverProvider;
import java.util.List;

/** {@code iommufd-sim demo}: the guided end-to-end story ({@link DemoStory}). */
final class DemoCommand implements Command {
    static final Option DRIVER = Option.value("driver", "ID", "the IOMMU driver: vtd (default, q35) or smmuv3 (virt)");
    static final Option MODE = Option.value("mode", "MODE",
            "vtd: legacy (default) or scalable; smmuv3: 2-level (default) or linear stream table");
    static final Option SNAPSHOT = Option.value("snapshot", "OUT",
            "write the machine snapshot (iommufd-sim.snapshot/1 JSON) taken after the fault to OUT");

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "Run a guided end-to-end DMA story through iommufd and an IOMMU driver";
    }

    @Override
    public String synopsis() {
        return "[--driver ID] [--mode MODE] [--snapshot OUT]";
    }

    @Override
    public String description() {
        return """
                Builds a QEMU-like machine (q35 with a VT-d unit for --driver vtd, virt with an SMMUv3 unit for
                --driver smmuv3), then tells a story, printing what happens at each layer as it happens:
                a process maps a 64 KiB buffer and a 2 MiB huge page into an I/O address space (IOMMU_IOAS_MAP),
                the device at 0000:00:04.0 is bound and attached, the IOMMU walks the tables the driver wrote
                (the huge page is one 2 MiB entry), the device's DMA read and write reach exactly the process's
                bytes, and a DMA to an IOVA that was never mapped faults: the IOMMU records the fault in its
                registers and the driver's handler consumes it.

                With --snapshot OUT, the machine state after the fault is written as a snapshot (see
                docs/snapshot.md); 'iommufd-sim decode OUT' decodes it.
                Exit status 0 when every step behaved as the story says, 1 otherwise.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(DRIVER, MODE, SNAPSHOT);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument '" + args.positional().get(0) + "'");
        }
        String id = args.values(DRIVER.name()).isEmpty() ? "vtd" : args.values(DRIVER.name()).get(0);
        String mode = args.values(MODE.name()).isEmpty() ? null : args.values(MODE.name()).get(0);
        String out = args.values(SNAPSHOT.name()).isEmpty() ? null : args.values(SNAPSHOT.name()).get(0);
        IommuDriverProvider driver;
        try {
            driver = DriverCatalog.load(IommufdSim.class.getClassLoader()).get(id);
        } catch (ErrnoException e) {
            throw new UsageException("--driver " + id + ": " + e.getMessage());
        }
        MachineConfig config = DemoMachine.config(driver, mode);
        long start = System.nanoTime();
        DemoStory.Outcome o = new DemoStory(terminal.out()).run(driver, config, out != null);
        if (out != null) {
            SnapshotFiles.write(out, SnapshotJson.write(o.snapshot()));
            terminal.out().printf("[%-8s] snapshot written to %s (%d structure frames, %d translations)%n", "snapshot",
                    out, o.snapshot().frames().size(), o.snapshot().translations().size());
        }
        terminal.out().printf("demo %s in %d ms%n", o.allGood() ? "completed" : "FAILED",
                (System.nanoTime() - start) / 1_000_000);
        return o.allGood() ? ExitCode.OK : ExitCode.FAILURE;
    }
}
