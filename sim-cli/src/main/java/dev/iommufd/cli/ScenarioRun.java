package dev.iommufd.cli;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.IovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDriverProvider;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a scenario (docs/cli.md, "Scenarios"): a machine is described ({@code machine}, {@code iommu},
 * {@code device}, {@code driver}), then a process and iommufd are driven one uAPI call per line, devices issue
 * DMA, and expectations are checked. Each step's result is printed; the first failed step stops the run with a
 * {@link ScenarioException} naming its line.
 *
 * <p>Not thread-safe: one run, one thread.
 */
final class ScenarioRun implements AutoCloseable {
    private static final Map<String, Integer> MAP_FLAGS = Map.of("FIXED_IOVA", IommuIoasMap.FLAG_FIXED_IOVA,
            "WRITEABLE", IommuIoasMap.FLAG_WRITEABLE, "READABLE", IommuIoasMap.FLAG_READABLE);
    private static final Map<String, Integer> HWPT_FLAGS = Map.of("NEST_PARENT", DomainAllocFlags.NEST_PARENT,
            "DIRTY_TRACKING", DomainAllocFlags.DIRTY_TRACKING, "PASID", DomainAllocFlags.PASID);

    private final PrintStream out;
    private final ClassLoader loader;
    private MachineProfile profile;
    private long ramSize = MachineConfig.DEFAULT_RAM_SIZE;
    private final List<IommuUnitConfig> units = new ArrayList<>();
    private final List<PciFunctionSpec> devices = new ArrayList<>();
    private final List<IommuDriverProvider> drivers = new ArrayList<>();
    private SimulatedMachine machine;
    private IommufdSubsystem subsystem;
    private UserProcess process;
    private IommufdFd iommufd;
    private final Map<String, Long> vars = new HashMap<>();
    private final Map<Integer, Set<Integer>> attachedPasids = new HashMap<>();
    private int steps;

    ScenarioRun(PrintStream out, ClassLoader loader) {
        this.out = out;
        this.loader = loader;
    }

    /** Parses and runs every line of {@code text}. */
    void run(String text) throws ScenarioException {
        String[] lines = text.split("\r?\n", -1);
        List<ScenarioLine> parsed = new ArrayList<>();
        for (int i = 0; i < lines.length; i++) {
            ScenarioLine l = ScenarioLine.parse(i + 1, lines[i]);
            if (l != null) {
                parsed.add(l);
            }
        }
        if (parsed.isEmpty()) {
            throw new ScenarioException(lines.length, "the scenario has no command");
        }
        for (ScenarioLine l : parsed) {
            step(l);
        }
    }

    /** Steps that ran. */
    int steps() {
        return steps;
    }

    /** A snapshot of the machine and the scenario's iommufd now. */
    MachineSnapshot snapshot(int line) throws ScenarioException {
        if (machine == null) {
            throw new ScenarioException(line, "no machine to snapshot: the scenario never used one");
        }
        return iommufd == null ? MachineSnapshot.capture(machine) : MachineSnapshot.capture(machine, iommufd);
    }

    @Override
    public void close() {
        if (iommufd != null) {
            iommufd.close();
        }
        if (machine != null) {
            machine.close();
        }
    }

    private void step(ScenarioLine l) throws ScenarioException {
        String expect = l.fields().get("expect");
        try {
            String result = execute(l);
            if (expect != null && !expect.equals("ok") && !isDmaStatus(expect)) {
                throw new ScenarioException(l.number(), l.verb() + " succeeded (" + result + ") but expect=" + expect);
            }
            steps++;
            out.printf("%4d  %-30s %s%n", l.number(), l.verb(), result);
        } catch (ErrnoException e) {
            String errno = e.errno().name();
            if (expect == null || !expect.equals(errno)) {
                throw new ScenarioException(l.number(), l.verb() + " failed: " + e.getMessage()
                        + (expect == null ? "" : " (expected " + expect + ")"));
            }
            steps++;
            out.printf("%4d  %-30s %s as expected (%s)%n", l.number(), l.verb(), errno, e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ScenarioException(l.number(), e.getMessage());
        }
    }

    private static boolean isDmaStatus(String s) {
        for (DmaStatus d : DmaStatus.values()) {
            if (d.name().equals(s)) {
                return true;
            }
        }
        return false;
    }

    private String execute(ScenarioLine l) throws ScenarioException {
        switch (l.verb()) {
            case "machine":
                return machine(l);
            case "iommu":
                return iommu(l);
            case "device":
                return device(l);
            case "driver":
                return driver(l);
            case "process":
                return processCommand(l);
            case "mmap":
                return mmap(l);
            case "write":
                return write(l);
            case "read":
                return read(l);
            case "dma":
                return dma(l);
            case "IOMMU_IOAS_ALLOC":
                allowed(l, Set.of(), Set.of("expect"));
                return bind(l, fd(l).ioasAlloc(), "out_ioas_id");
            case "IOMMU_IOAS_MAP": {
                allowed(l, Set.of("ioas_id", "flags", "user_va", "length"), Set.of("iova", "expect"));
                int flags = flags(l, "flags", MAP_FLAGS);
                long iova = fd(l).ioasMap(id(l, "ioas_id"), flags, number(l, "user_va"), number(l, "length"),
                        (flags & IommuIoasMap.FLAG_FIXED_IOVA) != 0 ? number(l, "iova") : optional(l, "iova", 0));
                return bind(l, iova, "iova");
            }
            case "IOMMU_IOAS_COPY": {
                allowed(l, Set.of("dst_ioas_id", "src_ioas_id", "flags", "length", "src_iova"), Set.of("dst_iova", "expect"));
                int flags = flags(l, "flags", MAP_FLAGS);
                long iova = fd(l).ioasCopy(id(l, "dst_ioas_id"), id(l, "src_ioas_id"), flags, number(l, "length"),
                        (flags & IommuIoasMap.FLAG_FIXED_IOVA) != 0 ? number(l, "dst_iova") : optional(l, "dst_iova", 0),
                        number(l, "src_iova"));
                return bind(l, iova, "dst_iova");
            }
            case "IOMMU_IOAS_UNMAP": {
                allowed(l, Set.of("ioas_id", "iova", "length"), Set.of("expect"));
                return bind(l, fd(l).ioasUnmap(id(l, "ioas_id"), number(l, "iova"), number(l, "length")), "length");
            }
            case "IOMMU_IOAS_IOVA_RANGES": {
                allowed(l, Set.of("ioas_id"), Set.of("expect"));
                IovaRanges r = fd(l).ioasIovaRanges(id(l, "ioas_id"));
                StringBuilder b = new StringBuilder("num_iovas=" + r.ranges().size() + " out_iova_alignment="
                        + hex(r.iovaAlignment()));
                for (IovaRange x : r.ranges()) {
                    b.append(String.format(" [%#x, %#x]", x.start(), x.last()));
                }
                return b.toString();
            }
            case "IOMMU_HWPT_ALLOC": {
                allowed(l, Set.of("dev_id", "pt_id"), Set.of("flags", "expect"));
                int flags = l.fields().containsKey("flags") ? flags(l, "flags", HWPT_FLAGS) : 0;
                return bind(l, fd(l).hwptAlloc(id(l, "dev_id"), id(l, "pt_id"), flags, 0, null, 0), "out_hwpt_id");
            }
            case "IOMMU_GET_HW_INFO": {
                allowed(l, Set.of("dev_id"), Set.of("expect"));
                HwInfo h = fd(l).getHwInfo(id(l, "dev_id"), 0, 0);
                return String.format("out_data_type=%d data_len=%d out_capabilities=%#x out_max_pasid_log2=%d", h.type(),
                        h.data().length, h.capabilities(), h.maxPasidLog2());
            }
            case "IOMMU_DESTROY":
                allowed(l, Set.of("id"), Set.of("expect"));
                fd(l).destroy(id(l, "id"));
                return "ok";
            case "VFIO_DEVICE_BIND_IOMMUFD": {
                allowed(l, Set.of("device"), Set.of("expect"));
                PciFunction f = function(l, l.fields().get("device"));
                return bind(l, fd(l).bindDevice(f), "out_devid");
            }
            case "VFIO_DEVICE_ATTACH_IOMMUFD_PT": {
                allowed(l, Set.of("dev_id", "pt_id"), Set.of("pasid", "expect"));
                int dev = id(l, "dev_id");
                int pasid = (int) optional(l, "pasid", 0);
                Set<Integer> on = attachedPasids.computeIfAbsent(dev, k -> new java.util.HashSet<>());
                // vfio_iommufd_physical_attach_ioas: a second attach of a bound device is a replace
                int hwpt = on.contains(pasid) ? fd(l).deviceReplace(dev, pasid, id(l, "pt_id"))
                        : fd(l).deviceAttach(dev, pasid, id(l, "pt_id"));
                on.add(pasid);
                return bind(l, hwpt, "pt_id");
            }
            case "VFIO_DEVICE_DETACH_IOMMUFD_PT": {
                allowed(l, Set.of("dev_id"), Set.of("pasid", "expect"));
                int dev = id(l, "dev_id");
                int pasid = (int) optional(l, "pasid", 0);
                fd(l).deviceDetach(dev, pasid);
                attachedPasids.getOrDefault(dev, Set.of()).remove(pasid);
                return "ok";
            }
            case "VFIO_DEVICE_UNBIND": {
                allowed(l, Set.of("dev_id"), Set.of("expect"));
                int dev = id(l, "dev_id");
                fd(l).unbindDevice(dev);
                attachedPasids.remove(dev);
                return "ok (device file closed)";
            }
            default:
                throw new ScenarioException(l.number(), "unknown command '" + l.verb() + "' (see docs/cli.md, 'Scenarios')");
        }
    }

    // ------------------------------------------------------------------------------------------ machine setup

    private String machine(ScenarioLine l) throws ScenarioException {
        setupOnly(l);
        if (profile != null) {
            throw new ScenarioException(l.number(), "the machine is already described");
        }
        allowed(l, Set.of(), Set.of("ram"));
        if (l.words().size() != 1) {
            throw new ScenarioException(l.number(), "usage: machine PROFILE [ram=SIZE] (PROFILE: q35, virt, pseries)");
        }
        profile = MachineProfile.byId(l.words().get(0));
        ramSize = optional(l, "ram", MachineConfig.DEFAULT_RAM_SIZE);
        return profile.id() + ", RAM " + DemoStory.size(ramSize);
    }

    private String iommu(ScenarioLine l) throws ScenarioException {
        setupOnly(l);
        needProfile(l);
        if (l.words().size() != 1) {
            throw new ScenarioException(l.number(), "usage: iommu NAME model=ID [preset=NAME] [base=ADDR] [REGISTER=VALUE...]");
        }
        Map<String, Long> overrides = new LinkedHashMap<>();
        for (var e : l.fields().entrySet()) {
            if (!Set.of("model", "preset", "base").contains(e.getKey())) {
                overrides.put(e.getKey(), parseNumber(l, e.getKey(), e.getValue()));
            }
        }
        String model = required(l, "model");
        String preset = l.fields().getOrDefault("preset", "qemu");
        units.add(new IommuUnitConfig(l.words().get(0), model, optional(l, "base", 0), preset, overrides));
        return l.words().get(0) + ": model " + model + ", preset " + preset + (overrides.isEmpty() ? "" : ", overrides " + overrides.entrySet().stream()
                        .map(e -> e.getKey() + "=" + hex(e.getValue())).toList());
    }

    private String device(ScenarioLine l) throws ScenarioException {
        setupOnly(l);
        needProfile(l);
        Set<String> flags = Set.of("ats", "pri", "noacs");
        List<String> extra = l.words().subList(Math.min(1, l.words().size()), l.words().size());
        if (l.words().isEmpty() || !flags.containsAll(extra)) {
            throw new ScenarioException(l.number(), "usage: device BDF iommu=NAME [pasid=BITS] [ats] [pri] [noacs]");
        }
        allowed(l, Set.of("iommu"), Set.of("pasid"));
        PciFunctionSpec spec = PciFunctionSpec.endpoint(l.words().get(0), required(l, "iommu"))
                .withPasid((int) optional(l, "pasid", 0));
        if (extra.contains("ats")) {
            spec = spec.withAts();
        }
        if (extra.contains("pri")) {
            spec = spec.withPri();
        }
        if (extra.contains("noacs")) {
            spec = spec.withoutAcs();
        }
        devices.add(spec);
        return spec.address() + " behind " + spec.iommuUnit();
    }

    private String driver(ScenarioLine l) throws ScenarioException {
        setupOnly(l);
        allowed(l, Set.of(), Set.of());
        if (l.words().size() != 1) {
            throw new ScenarioException(l.number(), "usage: driver ID");
        }
        try {
            IommuDriverProvider p = DriverCatalog.load(loader).get(l.words().get(0));
            drivers.add(p);
            return p.id() + " (" + p.description() + ")";
        } catch (ErrnoException e) {
            throw new ScenarioException(l.number(), e.getMessage());
        }
    }

    private void setupOnly(ScenarioLine l) throws ScenarioException {
        if (machine != null) {
            throw new ScenarioException(l.number(), "'" + l.verb() + "' describes the machine and must come before the"
                    + " first process, memory or iommufd command");
        }
    }

    private void needProfile(ScenarioLine l) throws ScenarioException {
        if (profile == null) {
            throw new ScenarioException(l.number(), "'machine PROFILE' must come first");
        }
    }

    private SimulatedMachine machine(int line) throws ScenarioException {
        if (machine == null) {
            if (profile == null) {
                throw new ScenarioException(line, "no machine: start the scenario with 'machine PROFILE'");
            }
            if (drivers.isEmpty()) {
                throw new ScenarioException(line, "no driver: add 'driver ID' before the first process command");
            }
            MachineConfig.Builder b = MachineConfig.builder(profile).ramSize(ramSize);
            units.forEach(b::iommu);
            devices.forEach(b::device);
            try {
                machine = SimulatedMachine.create(b.build());
            } catch (ErrnoException | IllegalArgumentException e) {
                throw new ScenarioException(line, "cannot build the machine: " + e.getMessage());
            }
            subsystem = new IommufdSubsystem(machine);
            for (IommuDriverProvider p : drivers) {
                subsystem.iommu().bind(p);
            }
        }
        return machine;
    }

    // ------------------------------------------------------------------------------------------ process, memory

    private String processCommand(ScenarioLine l) throws ScenarioException {
        allowed(l, Set.of(), Set.of("uid", "memlock", "cap"));
        if (l.words().size() != 1) {
            throw new ScenarioException(l.number(), "usage: process NAME [uid=N] [memlock=SIZE|unlimited] [cap=CAP_IPC_LOCK]");
        }
        if (process != null) {
            throw new ScenarioException(l.number(), "one process per scenario");
        }
        process = machine(l.number()).spawn(l.words().get(0), (int) optional(l, "uid", 1000));
        String memlock = l.fields().get("memlock");
        if (memlock != null) {
            process.setRlimitMemlock(memlock.equals("unlimited") ? Long.MAX_VALUE : parseNumber(l, "memlock", memlock));
        }
        String cap = l.fields().get("cap");
        if (cap != null) {
            try {
                process.grant(ProcessCapability.valueOf(cap));
            } catch (IllegalArgumentException e) {
                throw new ScenarioException(l.number(), "cap=" + cap + ": unknown capability (known: "
                        + Arrays.toString(ProcessCapability.values()) + ")");
            }
        }
        return "pid " + process.pid() + ", uid " + optional(l, "uid", 1000) + ", RLIMIT_MEMLOCK "
                + (process.rlimitMemlock() == Long.MAX_VALUE ? "unlimited" : DemoStory.size(process.rlimitMemlock()));
    }

    private String mmap(ScenarioLine l) throws ScenarioException {
        allowed(l, Set.of("length"), Set.of("prot", "kind", "addr", "expect"));
        String prot = l.fields().getOrDefault("prot", "rw");
        int p = 0;
        for (char c : prot.toCharArray()) {
            switch (c) {
                case 'r' -> p |= Prot.READ;
                case 'w' -> p |= Prot.WRITE;
                case 'x' -> p |= Prot.EXEC;
                case '-' -> { }
                default -> throw new ScenarioException(l.number(), "prot=" + prot + ": use r, w, x (e.g. rw)");
            }
        }
        MapKind kind = switch (l.fields().getOrDefault("kind", "anonymous")) {
            case "anonymous" -> MapKind.ANONYMOUS;
            case "hugetlb-2m" -> MapKind.HUGETLB_2M;
            case "hugetlb-1g" -> MapKind.HUGETLB_1G;
            default -> throw new ScenarioException(l.number(), "kind=" + l.fields().get("kind")
                    + ": one of anonymous, hugetlb-2m, hugetlb-1g");
        };
        long va = process(l).mmap(optional(l, "addr", 0), number(l, "length"), p, kind);
        return bind(l, va, "addr");
    }

    private String write(ScenarioLine l) throws ScenarioException {
        allowed(l, Set.of(), Set.of("data", "hex", "expect"));
        long va = address(l);
        byte[] data = data(l);
        process(l).write(va, data, 0, data.length);
        return data.length + " bytes at " + hex(va);
    }

    private String read(ScenarioLine l) throws ScenarioException {
        allowed(l, Set.of("length"), Set.of("data", "hex", "expect"));
        long va = address(l);
        byte[] got = new byte[(int) number(l, "length")];
        process(l).read(va, got, 0, got.length);
        checkData(l, got);
        return show(got);
    }

    private String dma(ScenarioLine l) throws ScenarioException {
        if (l.words().size() != 2 || !(l.words().get(0).equals("read") || l.words().get(0).equals("write"))) {
            throw new ScenarioException(l.number(), "usage: dma read|write BDF iova=ADDR (length=N | data=... | hex=...)"
                    + " [pasid=N] [expect=OK|FAULT|...]");
        }
        boolean isRead = l.words().get(0).equals("read");
        allowed(l, Set.of("iova"), isRead ? Set.of("length", "data", "hex", "pasid", "expect")
                : Set.of("data", "hex", "pasid", "expect"));
        machine(l.number());
        PciFunction f = function(l, l.words().get(1));
        String pasidText = l.fields().get("pasid");
        DmaAttributes attrs = pasidText == null ? DmaAttributes.NONE
                : new DmaAttributes((int) parseNumber(l, "pasid", pasidText), false, false);
        long iova = number(l, "iova");
        String expect = l.fields().getOrDefault("expect", "OK");
        if (!isDmaStatus(expect)) {
            throw new ScenarioException(l.number(), "expect=" + expect + ": a DMA ends in OK, FAULT, PAGE_REQUEST or BUS_ERROR");
        }
        DmaStatus status;
        String shown;
        if (isRead) {
            byte[] expected = l.fields().containsKey("data") || l.fields().containsKey("hex") ? data(l) : null;
            byte[] got = new byte[expected != null ? expected.length : (int) number(l, "length")];
            status = f.dmaRead(attrs, iova, got, 0, got.length);
            shown = show(got);
            if (!expect.equals(status.name())) {
                throw new ScenarioException(l.number(), "DMA read at " + hex(iova) + " ended " + status + ", expected " + expect);
            }
            if (status == DmaStatus.OK) {
                checkData(l, got);
            }
        } else {
            byte[] data = data(l);
            status = f.dmaWrite(attrs, iova, data, 0, data.length);
            shown = data.length + " bytes";
            if (!expect.equals(status.name())) {
                throw new ScenarioException(l.number(), "DMA write at " + hex(iova) + " ended " + status + ", expected " + expect);
            }
        }
        return status + " " + shown;
    }

    // ------------------------------------------------------------------------------------------ values

    private UserProcess process(ScenarioLine l) throws ScenarioException {
        if (process == null) {
            throw new ScenarioException(l.number(), "no process: add 'process NAME' first");
        }
        return process;
    }

    private IommufdFd fd(ScenarioLine l) throws ScenarioException {
        if (iommufd == null) {
            iommufd = subsystemFor(l).open(process(l));
        }
        return iommufd;
    }

    private IommufdSubsystem subsystemFor(ScenarioLine l) throws ScenarioException {
        machine(l.number());
        return subsystem;
    }

    private PciFunction function(ScenarioLine l, String bdf) throws ScenarioException {
        PciAddress a;
        try {
            a = PciAddress.parse(bdf);
        } catch (IllegalArgumentException e) {
            throw new ScenarioException(l.number(), e.getMessage());
        }
        PciFunction f;
        try {
            f = machine(l.number()).pci().function(a);
        } catch (ErrnoException e) {
            f = null;
        }
        if (f == null) {
            throw new ScenarioException(l.number(), "no device " + bdf + " on the machine (add 'device " + bdf
                    + " iommu=NAME')");
        }
        return f;
    }

    private String bind(ScenarioLine l, long value, String field) {
        if (l.bind() != null) {
            vars.put(l.bind(), value);
            return field + "=" + hexOrDec(value) + " -> $" + l.bind();
        }
        return field + "=" + hexOrDec(value);
    }

    private long address(ScenarioLine l) throws ScenarioException {
        if (l.words().size() != 1) {
            throw new ScenarioException(l.number(), "usage: " + l.verb() + " ADDRESS ... (for example $buf+0x100)");
        }
        return parseNumber(l, "address", l.words().get(0));
    }

    private int id(ScenarioLine l, String name) throws ScenarioException {
        long v = number(l, name);
        if (v < 0 || v > 0xffff_ffffL) {
            throw new ScenarioException(l.number(), name + "=" + l.fields().get(name) + " is not a 32-bit ID");
        }
        return (int) v;
    }

    private long number(ScenarioLine l, String name) throws ScenarioException {
        return parseNumber(l, name, required(l, name));
    }

    private long optional(ScenarioLine l, String name, long dflt) throws ScenarioException {
        String v = l.fields().get(name);
        return v == null ? dflt : parseNumber(l, name, v);
    }

    private static String required(ScenarioLine l, String name) throws ScenarioException {
        String v = l.fields().get(name);
        if (v == null) {
            throw new ScenarioException(l.number(), l.verb() + " needs " + name + "=...");
        }
        return v;
    }

    private static void allowed(ScenarioLine l, Set<String> required, Set<String> optional) throws ScenarioException {
        for (String r : required) {
            required(l, r);
        }
        for (String k : l.fields().keySet()) {
            if (!required.contains(k) && !optional.contains(k)) {
                List<String> all = new ArrayList<>(required);
                all.addAll(optional);
                all.sort(null);
                throw new ScenarioException(l.number(), l.verb() + " has no field '" + k + "' (fields: "
                        + String.join(", ", all) + ")");
            }
        }
    }

    private int flags(ScenarioLine l, String name, Map<String, Integer> known) throws ScenarioException {
        String v = required(l, name);
        int flags = 0;
        for (String f : v.split("\\|")) {
            if (f.equals("0")) {
                continue;
            }
            Integer bit = known.get(f);
            if (bit == null) {
                List<String> names = new ArrayList<>(known.keySet());
                names.sort(null);
                throw new ScenarioException(l.number(), name + ": unknown flag '" + f + "' (flags: " + String.join(", ", names)
                        + ", joined with |)");
            }
            flags |= bit;
        }
        return flags;
    }

    /** A number: decimal, 0x hexadecimal, with an optional K/M/G suffix, or $var[+offset]. */
    private long parseNumber(ScenarioLine l, String name, String text) throws ScenarioException {
        String t = text;
        long base = 0;
        if (t.startsWith("$")) {
            int plus = t.indexOf('+');
            String var = t.substring(1, plus < 0 ? t.length() : plus);
            Long v = vars.get(var);
            if (v == null) {
                throw new ScenarioException(l.number(), name + "=" + text + ": variable $" + var + " is not set"
                        + (vars.isEmpty() ? "" : " (set: $" + String.join(", $", new java.util.TreeSet<>(vars.keySet())) + ")"));
            }
            if (plus < 0) {
                return v;
            }
            base = v;
            t = t.substring(plus + 1);
        }
        long mult = 1;
        if (t.endsWith("K") || t.endsWith("M") || t.endsWith("G")) {
            mult = t.endsWith("K") ? 1L << 10 : t.endsWith("M") ? 1L << 20 : 1L << 30;
            t = t.substring(0, t.length() - 1);
        }
        try {
            long v = t.startsWith("0x") || t.startsWith("0X") ? Long.parseUnsignedLong(t.substring(2), 16)
                    : t.startsWith("-") ? Long.parseLong(t) : Long.parseUnsignedLong(t);
            return base + v * mult;
        } catch (NumberFormatException e) {
            throw new ScenarioException(l.number(), name + "=" + text + " is not a number (decimal, 0x.., K/M/G suffix, or"
                    + " $var+offset)");
        }
    }

    private byte[] data(ScenarioLine l) throws ScenarioException {
        String s = l.fields().get("data");
        String h = l.fields().get("hex");
        if ((s == null) == (h == null)) {
            throw new ScenarioException(l.number(), l.verb() + " needs data=\"text\" or hex=BYTES (one of them)");
        }
        if (s != null) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        try {
            return HexFormat.of().parseHex(h.replace(":", ""));
        } catch (IllegalArgumentException e) {
            throw new ScenarioException(l.number(), "hex=" + h + " is not an even number of hexadecimal digits");
        }
    }

    private void checkData(ScenarioLine l, byte[] got) throws ScenarioException {
        if (!l.fields().containsKey("data") && !l.fields().containsKey("hex")) {
            return;
        }
        byte[] want = data(l);
        if (want.length > got.length || !Arrays.equals(want, Arrays.copyOf(got, want.length))) {
            throw new ScenarioException(l.number(), "data differs: expected " + show(want) + ", got " + show(got));
        }
    }

    private static String show(byte[] b) {
        boolean text = true;
        for (byte x : b) {
            if (x < 0x20 || x > 0x7e) {
                text = false;
                break;
            }
        }
        return text ? "\"" + new String(b, StandardCharsets.US_ASCII) + "\"" : "hex=" + HexFormat.of().formatHex(b);
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    private static String hexOrDec(long v) {
        return v >= 0 && v < 4096 ? Long.toString(v) : hex(v);
    }
}
