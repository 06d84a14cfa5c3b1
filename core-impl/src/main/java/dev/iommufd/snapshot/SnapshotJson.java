package dev.iommufd.snapshot;

import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterValues;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes and reads {@link MachineSnapshot}s as {@code iommufd-sim.snapshot/1} JSON (docs/snapshot.md): integers
 * as {@code "0x..."} strings except {@code width} and {@code pasid_bits}; adjacent frames merged into one
 * {@code memory[]} entry; unknown keys ignored on reading.
 */
public final class SnapshotJson {
    private SnapshotJson() {
    }

    /** The snapshot as a JSON document (two-space indentation, one array element per line, final newline). */
    public static String write(MachineSnapshot s) {
        StringBuilder b = new StringBuilder(64 + s.frames().size() * 5600);
        b.append("{\n  \"schema\": ").append(str(MachineSnapshot.SCHEMA)).append(",\n");
        b.append("  \"machine\": {\n    \"profile\": ").append(str(s.profile())).append(",\n    \"ram\": [");
        String sep = "\n";
        for (MemoryRange r : s.ram()) {
            b.append(sep).append("      { \"base\": ").append(hex(r.base())).append(", \"size\": ").append(hex(r.size()))
                    .append(" }");
            sep = ",\n";
        }
        b.append("\n    ]\n  },\n  \"iommus\": [");
        sep = "\n";
        for (MachineSnapshot.Unit u : s.iommus()) {
            b.append(sep).append("    {\n      \"name\": ").append(str(u.name())).append(",\n      \"model\": ")
                    .append(str(u.model())).append(",\n      \"mmio\": { \"base\": ").append(hex(u.mmioBase()))
                    .append(", \"size\": ").append(hex(u.mmioSize())).append(" },\n      \"registers\": [");
            String rsep = "\n";
            for (RegisterValues.Value v : u.registers()) {
                RegisterInfo r = v.register();
                b.append(rsep).append("        { \"offset\": ").append(hex(r.offset())).append(", \"name\": ")
                        .append(str(r.name())).append(", \"width\": ").append(r.width()).append(", \"value\": ")
                        .append(hex(v.value())).append(" }");
                rsep = ",\n";
            }
            b.append("\n      ]\n    }");
            sep = ",\n";
        }
        b.append("\n  ],\n  \"devices\": [");
        sep = "\n";
        for (MachineSnapshot.Device d : s.devices()) {
            b.append(sep).append("    { \"bdf\": ").append(str(d.bdf())).append(", \"rid\": ").append(hex(d.rid()))
                    .append(", \"iommu\": ").append(str(d.iommu())).append(", \"pasid_bits\": ").append(d.pasidBits())
                    .append(" }");
            sep = ",\n";
        }
        b.append("\n  ],\n  \"translations\": [");
        sep = "\n";
        for (MachineSnapshot.Mapping m : s.translations()) {
            b.append(sep).append("    { \"bdf\": ").append(str(m.bdf())).append(", \"pasid\": ")
                    .append(m.pasid() == MachineSnapshot.NO_PASID ? "null" : hex(m.pasid())).append(", \"iova\": ")
                    .append(hex(m.iova())).append(", \"size\": ").append(hex(m.size())).append(", \"pa\": ")
                    .append(hex(m.pa())).append(", \"read\": ").append(m.read()).append(", \"write\": ")
                    .append(m.write()).append(" }");
            sep = ",\n";
        }
        b.append("\n  ],\n  \"memory\": [");
        sep = "\n";
        Base64.Encoder enc = Base64.getEncoder();
        long runBase = -1;
        java.io.ByteArrayOutputStream run = new java.io.ByteArrayOutputStream();
        for (Map.Entry<Long, byte[]> e : s.frames().entrySet()) {
            if (runBase >= 0 && runBase + run.size() != e.getKey()) {
                b.append(sep).append("    { \"base\": ").append(hex(runBase)).append(", \"data\": \"")
                        .append(enc.encodeToString(run.toByteArray())).append("\" }");
                sep = ",\n";
                run.reset();
                runBase = -1;
            }
            if (runBase < 0) {
                runBase = e.getKey();
            }
            run.writeBytes(e.getValue());
        }
        if (runBase >= 0) {
            b.append(sep).append("    { \"base\": ").append(hex(runBase)).append(", \"data\": \"")
                    .append(enc.encodeToString(run.toByteArray())).append("\" }");
        }
        b.append("\n  ]\n}\n");
        return b.toString();
    }

    /**
     * Reads a snapshot document.
     *
     * @throws SnapshotFormatException naming the first problem: JSON syntax (line and column), a missing or
     *         mistyped member (its path, such as {@code iommus[0].registers[3].value}), another schema
     */
    public static MachineSnapshot read(String json) {
        Map<String, Object> root = object(JsonValue.parse(json), "the document");
        String schema = string(root, "schema", "");
        if (!schema.equals(MachineSnapshot.SCHEMA)) {
            throw new SnapshotFormatException("schema is '" + schema + "', expected '" + MachineSnapshot.SCHEMA + "'");
        }
        Map<String, Object> machine = object(member(root, "machine", ""), "machine");
        String profile = string(machine, "profile", "machine.");
        List<MemoryRange> ram = new ArrayList<>();
        List<Object> ramList = array(machine, "ram", "machine.");
        for (int i = 0; i < ramList.size(); i++) {
            String p = "machine.ram[" + i + "].";
            Map<String, Object> r = object(ramList.get(i), p);
            ram.add(new MemoryRange(hex(r, "base", p), hex(r, "size", p)));
        }
        List<MachineSnapshot.Unit> units = new ArrayList<>();
        List<Object> iommus = array(root, "iommus", "");
        for (int i = 0; i < iommus.size(); i++) {
            String p = "iommus[" + i + "].";
            Map<String, Object> u = object(iommus.get(i), p);
            Map<String, Object> mmio = object(member(u, "mmio", p), p + "mmio");
            List<RegisterValues.Value> regs = new ArrayList<>();
            List<Object> rl = array(u, "registers", p);
            for (int j = 0; j < rl.size(); j++) {
                String rp = p + "registers[" + j + "].";
                Map<String, Object> r = object(rl.get(j), rp);
                regs.add(new RegisterValues.Value(new RegisterInfo(hex(r, "offset", rp), string(r, "name", rp),
                        (int) number(r, "width", rp)), hex(r, "value", rp)));
            }
            units.add(new MachineSnapshot.Unit(string(u, "name", p), string(u, "model", p), hex(mmio, "base", p + "mmio."),
                    hex(mmio, "size", p + "mmio."), regs));
        }
        List<MachineSnapshot.Device> devices = new ArrayList<>();
        List<Object> dl = array(root, "devices", "");
        for (int i = 0; i < dl.size(); i++) {
            String p = "devices[" + i + "].";
            Map<String, Object> d = object(dl.get(i), p);
            devices.add(new MachineSnapshot.Device(string(d, "bdf", p), (int) hex(d, "rid", p), string(d, "iommu", p),
                    (int) number(d, "pasid_bits", p)));
        }
        List<MachineSnapshot.Mapping> translations = new ArrayList<>();
        List<Object> tl = array(root, "translations", "");
        for (int i = 0; i < tl.size(); i++) {
            String p = "translations[" + i + "].";
            Map<String, Object> t = object(tl.get(i), p);
            Object pasid = member(t, "pasid", p);
            translations.add(new MachineSnapshot.Mapping(string(t, "bdf", p),
                    pasid == null ? MachineSnapshot.NO_PASID : (int) hex(t, "pasid", p), hex(t, "iova", p),
                    hex(t, "size", p), hex(t, "pa", p), bool(t, "read", p), bool(t, "write", p)));
        }
        TreeMap<Long, byte[]> frames = new TreeMap<>();
        List<Object> ml = array(root, "memory", "");
        Base64.Decoder dec = Base64.getDecoder();
        for (int i = 0; i < ml.size(); i++) {
            String p = "memory[" + i + "].";
            Map<String, Object> m = object(ml.get(i), p);
            long base = hex(m, "base", p);
            byte[] data;
            try {
                data = dec.decode(string(m, "data", p));
            } catch (IllegalArgumentException e) {
                throw new SnapshotFormatException(p + "data is not base64: " + e.getMessage());
            }
            if ((base & (PhysicalMemory.FRAME_SIZE - 1)) != 0 || data.length == 0
                    || data.length % PhysicalMemory.FRAME_SIZE != 0) {
                throw new SnapshotFormatException(p + "base/data must be whole 4 KiB frames (base " + hex(base)
                        + ", " + data.length + " bytes)");
            }
            for (int off = 0; off < data.length; off += PhysicalMemory.FRAME_SIZE) {
                byte[] f = java.util.Arrays.copyOfRange(data, off, off + PhysicalMemory.FRAME_SIZE);
                if (frames.put(base + off, f) != null) {
                    throw new SnapshotFormatException(p + "frame " + hex(base + off) + " appears twice");
                }
            }
        }
        return new MachineSnapshot(profile, ram, units, devices, translations, frames);
    }

    static String hex(long v) {
        return "\"0x" + Long.toHexString(v) + "\"";
    }

    private static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object o, String path) {
        if (!(o instanceof Map)) {
            throw new SnapshotFormatException(path + " is not an object");
        }
        return (Map<String, Object>) o;
    }

    private static Object member(Map<String, Object> m, String key, String path) {
        if (!m.containsKey(key)) {
            throw new SnapshotFormatException(path + key + " is missing");
        }
        return m.get(key);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> array(Map<String, Object> m, String key, String path) {
        Object o = member(m, key, path);
        if (!(o instanceof List)) {
            throw new SnapshotFormatException(path + key + " is not an array");
        }
        return (List<Object>) o;
    }

    private static String string(Map<String, Object> m, String key, String path) {
        Object o = member(m, key, path);
        if (!(o instanceof String s)) {
            throw new SnapshotFormatException(path + key + " is not a string");
        }
        return s;
    }

    private static boolean bool(Map<String, Object> m, String key, String path) {
        Object o = member(m, key, path);
        if (!(o instanceof Boolean b)) {
            throw new SnapshotFormatException(path + key + " is not true or false");
        }
        return b;
    }

    private static long number(Map<String, Object> m, String key, String path) {
        Object o = member(m, key, path);
        if (!(o instanceof Long l)) {
            throw new SnapshotFormatException(path + key + " is not an integer");
        }
        return l;
    }

    private static long hex(Map<String, Object> m, String key, String path) {
        String s = string(m, key, path);
        if (!s.startsWith("0x") || s.length() < 3 || s.length() > 18) {
            throw new SnapshotFormatException(path + key + " is not a 0x-prefixed hexadecimal string: '" + s + "'");
        }
        try {
            return Long.parseUnsignedLong(s.substring(2), 16);
        } catch (NumberFormatException e) {
            throw new SnapshotFormatException(path + key + " is not a 0x-prefixed hexadecimal string: '" + s + "'");
        }
    }
}
