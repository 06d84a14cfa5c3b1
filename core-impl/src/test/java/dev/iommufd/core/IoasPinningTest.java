package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DomainGeometry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The fixture of the tests that pin user pages through IOAS_MAP and check pins and charges: a 64 MiB q35 machine, a
 * process without CAP_IPC_LOCK (pins are charged to its user), an iommufd opened by it, and recording domains added
 * to IOASes. After each test the domains are removed (as an HWPT's detach does) and the iommufd closed, and nothing
 * may stay pinned or charged.
 */
abstract class IoasPinningTest {
    static final long PAGE = IoPages.PAGE_SIZE;

    final SimulatedMachine machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build());
    final UserProcess proc = machine.spawn("p", 1000);
    final IommufdSubsystem subsystem = new IommufdSubsystem(machine);
    final IommufdFd fd = subsystem.open(proc);
    final IommufdContext ctx = fd.context();

    /** A domain added to an IOAS by {@link #addDomain}. */
    private record AddedDomain(int ioas, RecordingDomain domain) {
    }

    private final List<AddedDomain> domains = new ArrayList<>();

    @AfterEach
    void closeAndCheckNothingLeaks() {
        try {
            for (AddedDomain d : domains) {
                if (iopt(d.ioas()).domains().contains(d.domain())) {
                    iopt(d.ioas()).removeDomain(d.domain());
                }
            }
            fd.close();
            assertEquals(0, machine.pinnedFrames(), "frames still pinned after close");
            assertEquals(0, proc.user().lockedVm(), "user locked_vm after close");
            assertEquals(0, proc.mm().pinnedVm(), "pinned_vm after close");
        } finally {
            machine.close();
        }
    }

    IoPageTable iopt(int ioas) {
        Ioas o = ctx.getIoas(ioas);
        ctx.objects().put(o);
        return o.iopt();
    }

    /** A recording domain (4 KiB and 2 MiB pages) added to {@code ioas}; removed again after the test. */
    RecordingDomain addDomain(int ioas) {
        RecordingDomain d = new RecordingDomain(DomainGeometry.of(0, -1L, PAGE | (2L << 20)));
        iopt(ioas).addDomain(d);
        domains.add(new AddedDomain(ioas, d));
        return d;
    }

    /** Long-term pins of the frame behind {@code va}. */
    int pins(long va) {
        return proc.pinCount(proc.translate(va));
    }
}
