package dev.iommufd.cli;

import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotDecoding;
import dev.iommufd.spi.hw.DecodedNode;
import java.util.List;

/**
 * {@code iommufd-sim decode SNAPSHOT [--svg OUT] [--device BDF]}: every hardware structure of a snapshot decoded
 * field by field by the model's {@link dev.iommufd.spi.hw.StructureDecoder}, from the snapshot's registers and
 * memory only; optionally a picture of one device's page-table tree.
 */
final class DecodeCommand implements Command {
    static final Option SVG = Option.value("svg", "OUT", "also draw the page-table tree of a device as SVG into OUT");
    static final Option DEVICE = Option.value("device", "BDF",
            "the device whose tree --svg draws (default: the first device with a page table)");

    @Override
    public String name() {
        return "decode";
    }

    @Override
    public String summary() {
        return "Decode every IOMMU structure of a snapshot field by field (and draw a page-table tree)";
    }

    @Override
    public String synopsis() {
        return "SNAPSHOT [--svg OUT] [--device BDF]";
    }

    @Override
    public String description() {
        return """
                Reads an iommufd-sim.snapshot/1 file (docs/snapshot.md) and prints, for each IOMMU unit, its
                registers and every structure they lead to, decoded field by field with the names the
                architecture specification uses: for VT-d the root table, and per device its root entry, context
                entry (legacy or scalable), PASID directory and table entries and the second- or first-stage
                page-table walk; for SMMUv3 the stream table, and per device its STE, CD and stage-1 or stage-2
                translation-table walk. Decoding uses only the snapshot's registers and memory, with the
                structure decoder (dev.iommufd.spi.hw.StructureDecoder) of the unit's hardware model.
                Then the translations the snapshot lists (what iommufd says each device should reach).

                With --svg OUT, the page-table tree of one device (--device, else the first with a page table)
                is drawn as an SVG picture: one box per table with its present entries, arrows to next-level
                tables.
                """;
    }

    @Override
    public List<Option> options() {
        return List.of(SVG, DEVICE);
    }

    @Override
    public int run(ParsedArguments args, Terminal terminal) throws UsageException {
        if (args.positional().size() != 1) {
            throw new UsageException(args.positional().isEmpty() ? "missing SNAPSHOT (a snapshot JSON file)"
                    : "unexpected argument '" + args.positional().get(1) + "'");
        }
        String file = args.positional().get(0);
        MachineSnapshot snapshot = SnapshotFiles.read(file);
        String svgOut = args.values(SVG.name()).isEmpty() ? null : args.values(SVG.name()).get(0);
        String wanted = args.values(DEVICE.name()).isEmpty() ? null : args.values(DEVICE.name()).get(0);
        if (wanted != null && svgOut == null) {
            throw new UsageException("--device only selects the tree that --svg draws; give --svg OUT too");
        }
        if (wanted != null && snapshot.devices().stream().noneMatch(d -> d.bdf().equals(wanted))) {
            throw new UsageException("--device " + wanted + ": no such device in " + file + " (devices: "
                    + String.join(", ", snapshot.devices().stream().map(MachineSnapshot.Device::bdf).toList()) + ")");
        }
        terminal.out().printf("snapshot %s: machine %s, %d IOMMU unit(s), %d device(s), %d frame(s)%n", file,
                snapshot.profile(), snapshot.iommus().size(), snapshot.devices().size(), snapshot.frames().size());
        List<DecodedNode> units = SnapshotDecoding.decode(snapshot, IommufdSim.class.getClassLoader());
        boolean problems = false;
        for (DecodedNode u : units) {
            DecodedText.print(u, terminal.out());
            problems |= u.children().stream().anyMatch(c -> c.kind() == DecodedNode.Kind.PROBLEM);
        }
        terminal.out().println("translations (from iommufd's state):");
        for (MachineSnapshot.Mapping m : snapshot.translations()) {
            terminal.out().printf("  %s pasid %s: IOVA %#x..%#x -> PA %#x (%s%s)%n", m.bdf(),
                    m.pasid() == MachineSnapshot.NO_PASID ? "none" : Integer.toString(m.pasid()), m.iova(),
                    m.iova() + m.size() - 1, m.pa(), m.read() ? "R" : "-", m.write() ? "W" : "-");
        }
        if (svgOut != null) {
            DecodedNode device = findDevice(units, wanted);
            if (device == null) {
                terminal.err().println("iommufd-sim decode: no device in " + file + " has a page table to draw");
                return ExitCode.FAILURE;
            }
            SnapshotFiles.write(svgOut, PageTableSvg.render("page tables of " + device.name() + " (" + file + ")", device));
            terminal.out().println("page-table picture of " + device.name() + " written to " + svgOut);
        }
        return problems ? ExitCode.FAILURE : ExitCode.OK;
    }

    /** The decoder's group for device {@code bdf}, or (bdf null) the first device group holding a table. */
    private static DecodedNode findDevice(List<DecodedNode> units, String bdf) {
        for (DecodedNode unit : units) {
            for (DecodedNode model : unit.children()) {
                for (DecodedNode g : model.children()) {
                    if (g.kind() != DecodedNode.Kind.GROUP || g.name().equals("registers")) {
                        continue;
                    }
                    boolean hasTable = g.children().stream().anyMatch(c -> c.kind() == DecodedNode.Kind.TABLE);
                    if (bdf != null ? g.name().equals(bdf) : hasTable) {
                        return g;
                    }
                }
            }
        }
        return null;
    }
}
