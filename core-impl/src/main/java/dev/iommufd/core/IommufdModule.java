package dev.iommufd.core;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.iommufd.platform.Machine;

/**
 * Guice wiring of iommufd: binds the {@link IommufdSubsystem} of the {@link Machine} bound elsewhere (the platform
 * module). Open contexts with {@code injector.getInstance(IommufdSubsystem.class).open(process)}.
 */
public final class IommufdModule extends AbstractModule {

    @Provides
    @Singleton
    IommufdSubsystem subsystem(Machine machine) {
        return CoreIommufdProvider.subsystem(machine);
    }
}
