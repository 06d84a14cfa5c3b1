package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.HardwareModelCatalog;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MmioBus;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.PciTopology;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.platform.UserAccount;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A simulated machine built from a {@link MachineConfig}.
 *
 * <p>Construction order: physical memory (the profile's RAM layout), MMIO bus, interrupt controller, PCI topology,
 * then every IOMMU unit in configuration order (created by the {@link HardwareModelProvider} of its model id, found
 * by {@link HardwareModelCatalog}, and mapped on the MMIO bus at the configured base or the profile's default),
 * then every PCI function. Any failure leaves no machine.
 *
 * <p>Thread-safe: units are fixed after construction; users live in a concurrent map; processes in a copy-on-write
 * list.
 */
public final class SimulatedMachine implements Machine {

    /** The first pid handed out (below are the simulated system's own processes). */
    static final int FIRST_PID = 1000;

    private final MachineProfile profile;
    private final SparsePhysicalMemory memory;
    private final SimulatedMmioBus mmio;
    private final SimulatedInterruptController interrupts;
    private final SimulatedPciTopology pci;
    private final LongTermPins pins;
    private final Map<String, IommuUnitModel> units = new LinkedHashMap<>();
    private final List<IommuUnitModel> unitList;
    private final ConcurrentHashMap<Integer, SimulatedUserAccount> users = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<UserProcess> processes = new CopyOnWriteArrayList<>();
    private final AtomicInteger nextPid = new AtomicInteger(FIRST_PID);
    private volatile boolean closed;
    /** {@link #onClose} hooks not run yet; a hook runs only after whoever removes it from here (so exactly once). */
    private final CopyOnWriteArrayList<Runnable> closeHooks = new CopyOnWriteArrayList<>();

    private SimulatedMachine(MachineConfig config, HardwareModelCatalog models) {
        this.profile = config.profile();
        this.memory = SparsePhysicalMemory.of(profile, config.ramSize());
        this.mmio = new SimulatedMmioBus(memory);
        this.interrupts = new SimulatedInterruptController(profile);
        this.pci = new SimulatedPciTopology(memory, profile, interrupts, this::iommuUnit);
        this.pins = new LongTermPins(memory);
        HardwareContext context = new Context();
        for (IommuUnitConfig unitConfig : config.iommus()) {
            if (units.containsKey(unitConfig.name())) {
                throw ErrnoException.of(Errno.EEXIST, "two IOMMU units are named %s", unitConfig.name());
            }
            HardwareModelProvider provider = models.get(unitConfig.model());
            long base = unitConfig.mmioBase() != 0 ? unitConfig.mmioBase() : profile.defaultIommuBase(unitConfig.model());
            IommuUnitConfig resolved = new IommuUnitConfig(unitConfig.name(), unitConfig.model(), base, unitConfig.preset(),
                    unitConfig.overrides());
            IommuUnitModel unit = provider.create(context, resolved);
            if (!unit.name().equals(unitConfig.name())) {
                throw new IllegalStateException("hardware model " + unitConfig.model() + " created a unit named " + unit.name()
                        + " for " + unitConfig.name());
            }
            mmio.map(base, unit);
            units.put(unit.name(), unit);
        }
        this.unitList = List.copyOf(units.values());
        for (PciFunctionSpec device : config.devices()) {
            pci.add(device);
        }
    }

    /** Builds a machine, finding hardware models on the thread's context class loader (or this class's loader). */
    public static SimulatedMachine create(MachineConfig config) {
        Objects.requireNonNull(config, "config");
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        return create(config, HardwareModelCatalog.shared(loader != null ? loader : SimulatedMachine.class.getClassLoader()));
    }

    /** Builds a machine with the hardware models of {@code models}. */
    public static SimulatedMachine create(MachineConfig config, HardwareModelCatalog models) {
        return new SimulatedMachine(Objects.requireNonNull(config, "config"), Objects.requireNonNull(models, "models"));
    }

    /** What hardware models see. */
    private final class Context implements HardwareContext {
        @Override
        public PhysicalMemory memory() {
            return memory;
        }

        @Override
        public InterruptController interrupts() {
            return interrupts;
        }

        @Override
        public PciTopology pci() {
            return pci;
        }

        @Override
        public String profile() {
            return profile.id();
        }
    }

    @Override
    public MachineProfile profile() {
        return profile;
    }

    @Override
    public SparsePhysicalMemory memory() {
        return memory;
    }

    @Override
    public MmioBus mmio() {
        return mmio;
    }

    @Override
    public InterruptController interrupts() {
        return interrupts;
    }

    @Override
    public PciTopology pci() {
        return pci;
    }

    @Override
    public List<IommuUnitModel> iommuUnits() {
        return unitList;
    }

    @Override
    public IommuUnitModel iommuUnit(String name) {
        IommuUnitModel unit = units.get(name);
        if (unit == null) {
            throw ErrnoException.of(Errno.ENODEV, "no IOMMU unit named %s (units: %s)", name, units.keySet());
        }
        return unit;
    }

    @Override
    public UserAccount user(int uid) {
        if (uid < 0) {
            throw ErrnoException.of(Errno.EINVAL, "uid %d is negative", uid);
        }
        return users.computeIfAbsent(uid, SimulatedUserAccount::new);
    }

    @Override
    public UserProcess spawn(String name, int uid) {
        if (closed) {
            throw ErrnoException.of(Errno.ESRCH, "the machine is closed");
        }
        SimulatedUserAccount account = (SimulatedUserAccount) user(uid);
        SimulatedUserProcess p = new SimulatedUserProcess(nextPid.getAndIncrement(), name, account, memory, pins,
                processes::remove);
        processes.add(p);
        return p;
    }

    @Override
    public List<UserProcess> processes() {
        return List.copyOf(processes);
    }

    /** Frames kept alive only by long-term pins after their mappings went away. */
    public int orphanedPinnedPages() {
        return pins.orphanPages();
    }

    /** Frames with at least one long-term pin. */
    public int pinnedFrames() {
        return pins.pinnedFrames();
    }

    @Override
    public boolean onClose(Runnable hook) {
        Objects.requireNonNull(hook, "hook");
        closeHooks.add(hook);
        if (closed && closeHooks.remove(hook)) {
            hook.run();
        }
        return true;
    }

    @Override
    public void close() {
        closed = true;
        for (UserProcess p : new ArrayList<>(processes)) {
            p.exit();
        }
        for (Runnable hook : closeHooks) {
            if (closeHooks.remove(hook)) {
                hook.run();
            }
        }
    }

    @Override
    public String toString() {
        return "SimulatedMachine " + profile.id() + " RAM " + memory.ram() + " units " + units.keySet();
    }
}
