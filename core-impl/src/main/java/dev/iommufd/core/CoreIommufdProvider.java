package dev.iommufd.core;

import com.google.auto.service.AutoService;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IommufdProvider;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.Map;
import java.util.WeakHashMap;

/** The {@link IommufdProvider} behind {@link Iommufd#open}: one {@link IommufdSubsystem} per machine. */
@AutoService(IommufdProvider.class)
public final class CoreIommufdProvider implements IommufdProvider {
    private static final Map<Machine, IommufdSubsystem> SUBSYSTEMS = new WeakHashMap<>();

    /** The subsystem of {@code machine}, created on first use. */
    public static IommufdSubsystem subsystem(Machine machine) {
        synchronized (SUBSYSTEMS) {
            return SUBSYSTEMS.computeIfAbsent(machine, IommufdSubsystem::new);
        }
    }

    @Override
    public Iommufd open(Machine machine, UserProcess process) {
        return subsystem(machine).open(process);
    }
}
