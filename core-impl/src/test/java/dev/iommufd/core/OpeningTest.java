package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.IovaRange;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The ways to open /dev/iommu: plain Java (ServiceLoader), Guice, and the VFIO container node; file lifetime. */
class OpeningTest {
    private final SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build());
    private final UserProcess proc = machine.spawn("app", 1000);

    @AfterEach
    void close() {
        machine.close();
    }

    @Test
    void plainJavaOpenFindsTheImplementation() {
        try (Iommufd fd = Iommufd.open(machine, proc)) {
            int ioas = fd.ioasAlloc();
            assertEquals(1, ioas);
            assertEquals(List.of(new IovaRange(0, -1L)), fd.ioasIovaRanges(ioas).ranges());
            assertSame(proc, fd.process());
        }
        assertSame(CoreIommufdProvider.subsystem(machine), CoreIommufdProvider.subsystem(machine));
    }

    @Test
    void guiceBindsTheMachinesSubsystem() {
        Injector injector = Guice.createInjector(new AbstractModule() {
            @Override
            protected void configure() {
                bind(Machine.class).toInstance(machine);
            }
        }, new IommufdModule());
        IommufdSubsystem subsystem = injector.getInstance(IommufdSubsystem.class);
        assertSame(subsystem, injector.getInstance(IommufdSubsystem.class));
        try (IommufdFd fd = subsystem.open(proc)) {
            assertEquals(1, fd.ioasAlloc());
        }
    }

    @Test
    void theVfioNodeDefaultsToMmAccounting() { // §3.1: opened through /dev/vfio/vfio → IOPT_PAGES_ACCOUNT_MM
        try (IommufdFd vfio = new IommufdSubsystem(machine).openVfioContainer(proc);
                IommufdFd plain = new IommufdSubsystem(machine).open(proc)) {
            assertEquals(1, vfio.optionGet(IommuOption.OPTION_RLIMIT_MODE, 0));
            assertEquals(0, plain.optionGet(IommuOption.OPTION_RLIMIT_MODE, 0));
        }
    }

    @Test
    void theFileLivesUntilItsLastDescriptorAndAccessAreGone() {
        IommufdFd fd = new IommufdSubsystem(machine).open(proc);
        int ioas = fd.ioasAlloc();
        UserProcess child = machine.spawn("child", 1000);
        Iommufd inherited = fd.inheritedBy(child);
        fd.close();
        assertEquals(Errno.EBADF, assertThrows(ErrnoException.class, fd::ioasAlloc).errno());
        assertEquals(-Errno.EBADF.number(), fd.ioctl(IommuIoasMap.REQUEST, 0));
        assertTrue(!fd.context().isReleased());
        var access = inherited.accessCreate(new dev.iommufd.api.AccessOps() {
            @Override
            public boolean needsPinPages() {
                return false;
            }

            @Override
            public void unmap(dev.iommufd.api.IommufdAccess a, long iova, long length) {
            }
        });
        access.attach(ioas);
        inherited.close();
        assertTrue(!fd.context().isReleased(), "the access keeps the file");
        assertEquals(2, fd.context().objects().live(ObjectKind.ANY, IommufdObject.class).size());
        access.close();
        assertTrue(fd.context().isReleased());
        assertTrue(fd.context().objects().isEmpty());
        assertTrue(fd.context().leakedAtRelease().isEmpty());
    }
}
