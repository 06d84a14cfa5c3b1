package dev.iommufd.core;

import com.google.auto.service.AutoService;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IommufdProvider;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The {@link IommufdProvider} behind {@link Iommufd#open}: one {@link IommufdSubsystem} per machine, released when the
 * machine closes.
 *
 * <p>A subsystem references its machine strongly, so it cannot be the value of a map weakly keyed by the machine (the
 * entry would never be collected). Instead the machine owns the entry's lifetime: the subsystem is created with an
 * {@link Machine#onClose} hook that removes it. Machines that offer no close hook (the SPI default) fall back to a
 * weak map, whose entries are kept as long as the subsystem is (documented limitation of such machines).
 */
@AutoService(IommufdProvider.class)
public final class CoreIommufdProvider implements IommufdProvider {
    /** Subsystems of machines that remove them on close. Guarded by its own monitor. */
    private static final Map<Machine, IommufdSubsystem> SUBSYSTEMS = new IdentityHashMap<>();
    /** Subsystems of machines without {@link Machine#onClose}. Guarded by {@link #SUBSYSTEMS}'s monitor. */
    private static final Map<Machine, IommufdSubsystem> UNHOOKED = new WeakHashMap<>();

    /** The subsystem of {@code machine}, created on first use; on a closed machine, a fresh one that is not kept. */
    public static IommufdSubsystem subsystem(Machine machine) {
        synchronized (SUBSYSTEMS) {
            IommufdSubsystem s = SUBSYSTEMS.get(machine);
            if (s == null) {
                s = UNHOOKED.get(machine);
            }
            if (s != null) {
                return s;
            }
            s = new IommufdSubsystem(machine);
            SUBSYSTEMS.put(machine, s);
            // A machine closed already runs the hook at once (same thread, monitor re-entered): nothing is kept.
            if (!machine.onClose(() -> release(machine))) {
                SUBSYSTEMS.remove(machine);
                UNHOOKED.put(machine, s);
            }
            return s;
        }
    }

    private static void release(Machine machine) {
        synchronized (SUBSYSTEMS) {
            SUBSYSTEMS.remove(machine);
        }
    }

    /** Whether a subsystem of {@code machine} is kept (for tests of the release on close). */
    static boolean holds(Machine machine) {
        synchronized (SUBSYSTEMS) {
            return SUBSYSTEMS.containsKey(machine) || UNHOOKED.containsKey(machine);
        }
    }

    @Override
    public Iommufd open(Machine machine, UserProcess process) {
        return subsystem(machine).open(process);
    }
}
