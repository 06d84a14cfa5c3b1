package dev.iommufd.snapshot;

import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.StructureDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Decodes a {@link MachineSnapshot} with the {@link StructureDecoder} of each unit's model, found with
 * {@link ServiceLoader}: registers and memory come from the snapshot only.
 */
public final class SnapshotDecoding {
    private SnapshotDecoding() {
    }

    /** The decoder for {@code model} on {@code loader}, or null. */
    public static StructureDecoder decoderFor(String model, ClassLoader loader) {
        for (StructureDecoder d : ServiceLoader.load(StructureDecoder.class, loader)) {
            if (d.model().equals(model)) {
                return d;
            }
        }
        return null;
    }

    /**
     * One {@link DecodedNode.Kind#GROUP} per unit; a unit whose model has no decoder on {@code loader} gets a
     * {@link DecodedNode.Kind#PROBLEM} node saying so.
     */
    public static List<DecodedNode> decode(MachineSnapshot snapshot, ClassLoader loader) {
        List<DecodedNode> out = new ArrayList<>();
        SnapshotMemory memory = snapshot.memory();
        for (MachineSnapshot.Unit u : snapshot.iommus()) {
            StructureDecoder d = decoderFor(u.model(), loader);
            if (d == null) {
                DecodedNode g = DecodedNode.group(u.name(), "model " + u.model());
                g.add(DecodedNode.problem("decoder", "no structure decoder for model '" + u.model()
                        + "' on the class path"));
                out.add(g);
                continue;
            }
            List<StructureDecoder.Device> devices = new ArrayList<>();
            for (MachineSnapshot.Device dev : snapshot.devices()) {
                if (dev.iommu().equals(u.name())) {
                    devices.add(new StructureDecoder.Device(dev.bdf(), dev.rid(), dev.pasidBits()));
                }
            }
            DecodedNode g = DecodedNode.group(u.name(), "model " + u.model() + ", MMIO 0x" + Long.toHexString(u.mmioBase()));
            g.add(d.decode(u.registerValues(), memory, devices));
            out.add(g);
        }
        return out;
    }
}
