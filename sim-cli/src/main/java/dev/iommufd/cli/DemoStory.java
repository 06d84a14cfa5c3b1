package dev.iommufd.cli;

import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.snapshot.MachineSnapshot;
import dev.iommufd.snapshot.SnapshotDecoding;
import dev.iommufd.spi.hw.DecodedNode;
import dev.iommufd.spi.hw.MemoryView;
import dev.iommufd.spi.hw.RegisterValues;
import dev.iommufd.spi.hw.StructureDecoder;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.Translation;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The guided end-to-end story of {@code iommufd-sim demo}: a process maps two buffers (one on a 2 MiB huge page)
 * into an IOAS, the device 0000:00:04.0 is bound and attached, its DMA reads and writes reach exactly the
 * process's bytes, and a DMA to an IOVA that is not mapped faults in the IOMMU, which records the fault in its
 * registers. Each step prints what happens at each layer: {@code process}, {@code iommufd}, {@code hardware},
 * {@code device}.
 */
final class DemoStory {
    static final long SMALL_IOVA = 0x1000_0000L;
    static final long SMALL_SIZE = 64 * 1024;
    static final long HUGE_IOVA = 0x4000_0000L;
    static final long HUGE_SIZE = 2L << 20;
    static final long UNMAPPED_IOVA = 0x2000_0000L;
    static final int MAP_RW_FIXED = IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE
            | IommuIoasMap.FLAG_FIXED_IOVA;
    static final String MESSAGE = "hello, device: this line was written by the process";

    /** What the story found, for tests. */
    record Outcome(boolean readMatched, boolean writeSeenByProcess, DmaStatus unmappedStatus, long hugePageSize,
            MachineSnapshot snapshot) {
        boolean allGood() {
            return readMatched && writeSeenByProcess && unmappedStatus == DmaStatus.FAULT;
        }
    }

    private final PrintStream out;

    DemoStory(PrintStream out) {
        this.out = out;
    }

    /**
     * Runs the story with {@code driver} on {@code config}; captures a snapshot after the fault when
     * {@code snapshot} is set (before tearing down).
     */
    Outcome run(IommuDriverProvider driver, MachineConfig config, boolean snapshot) {
        try (SimulatedMachine machine = SimulatedMachine.create(config)) {
            IommuUnitModel unit = machine.iommuUnits().get(0);
            say("machine", "%s (%s), RAM %s; IOMMU unit %s: model %s, registers at %#x", machine.profile().id(),
                    machine.profile().arch(), ram(machine), unit.name(), unit.model(), unit.mmioBase());
            IommufdSubsystem subsystem = new IommufdSubsystem(machine);
            subsystem.iommu().bind(driver);
            say("driver", "%s bound to %s (%s)", driver.id(), unit.name(), driver.description());

            UserProcess proc = machine.spawn("vmm", 1000);
            long small = proc.mmap(0, SMALL_SIZE, Prot.READ | Prot.WRITE, MapKind.ANONYMOUS);
            long huge = proc.mmap(0, HUGE_SIZE, Prot.READ | Prot.WRITE, MapKind.HUGETLB_2M);
            say("process", "pid %d mmap()s a 64 KiB buffer at VA %#x and a 2 MiB huge page at VA %#x", proc.pid(),
                    small, huge);
            byte[] message = MESSAGE.getBytes(StandardCharsets.US_ASCII);
            proc.write(small + 0x100, message, 0, message.length);
            say("process", "writes \"%s\" at VA %#x (physical page %#x)", MESSAGE, small + 0x100,
                    proc.translate(small + 0x100) & -4096L);

            PciFunction dev = machine.pci().function(PciAddress.parse(DemoMachine.DEVICE));
            try (IommufdFd fd = subsystem.open(proc)) {
                say("iommufd", "open(\"/dev/iommu\") for pid %d", proc.pid());
                int devId = fd.bindDevice(dev);
                say("iommufd", "VFIO_DEVICE_BIND_IOMMUFD %s (RID %#06x, behind %s) -> dev_id %d", dev.address(),
                        dev.rid(), dev.iommuUnit(), devId);
                int ioas = fd.ioasAlloc();
                say("iommufd", "IOMMU_IOAS_ALLOC -> ioas_id %d", ioas);
                fd.ioasMap(ioas, MAP_RW_FIXED, small, SMALL_SIZE, SMALL_IOVA);
                say("iommufd", "IOMMU_IOAS_MAP user_va=%#x length=%#x iova=%#x (READABLE|WRITEABLE|FIXED_IOVA)", small,
                        SMALL_SIZE, SMALL_IOVA);
                fd.ioasMap(ioas, MAP_RW_FIXED, huge, HUGE_SIZE, HUGE_IOVA);
                say("iommufd", "IOMMU_IOAS_MAP user_va=%#x length=%#x iova=%#x (READABLE|WRITEABLE|FIXED_IOVA)", huge,
                        HUGE_SIZE, HUGE_IOVA);
                int hwpt = fd.deviceAttach(devId, 0, ioas);
                say("iommufd", "VFIO_DEVICE_ATTACH_IOMMUFD_PT dev_id %d pt_id %d -> hwpt_id %d (a paging domain the"
                        + " driver allocated for the IOAS)", devId, ioas, hwpt);
                say("iommufd", "pinned %d pages of the process's memory (pinned_vm), charged to uid 1000's locked_vm"
                        + " (%d pages; RLIMIT_MEMLOCK %s)", proc.mm().pinnedVm(), proc.user().lockedVm(),
                        size(proc.rlimitMemlock()));

                Translation t = new Translation();
                long hugePage = 0;
                for (long iova : new long[] {SMALL_IOVA + 0x100, HUGE_IOVA + 0x1234}) {
                    unit.translate(dev.rid(), DmaAttributes.NO_PASID, iova, Translation.ACCESS_READ, t);
                    if (t.isOk()) {
                        say("hardware", "%s walks its tables for RID %#06x IOVA %#x -> PA %#x in a %s page", unit.name(),
                                dev.rid(), iova, t.physicalAddress(), size(t.pageSize()));
                        if (iova >= HUGE_IOVA) {
                            hugePage = t.pageSize();
                        }
                    } else {
                        say("hardware", "%s cannot translate IOVA %#x (fault reason %#x)", unit.name(), iova,
                                t.faultReason());
                    }
                }

                byte[] seen = new byte[message.length];
                DmaStatus read = dev.dmaRead(SMALL_IOVA + 0x100, seen);
                boolean readMatched = read == DmaStatus.OK && Arrays.equals(seen, message);
                say("device", "DMA read of %d bytes at IOVA %#x: %s, \"%s\"", seen.length, SMALL_IOVA + 0x100, read,
                        new String(seen, StandardCharsets.US_ASCII));

                byte[] reply = "the device was here".getBytes(StandardCharsets.US_ASCII);
                DmaStatus write = dev.dmaWrite(HUGE_IOVA + 0x1234, reply);
                say("device", "DMA write of %d bytes at IOVA %#x (inside the huge page): %s", reply.length,
                        HUGE_IOVA + 0x1234, write);
                byte[] back = new byte[reply.length];
                proc.read(huge + 0x1234, back, 0, back.length);
                boolean writeSeen = write == DmaStatus.OK && Arrays.equals(back, reply);
                say("process", "reads VA %#x: \"%s\"", huge + 0x1234, new String(back, StandardCharsets.US_ASCII));

                List<RegisterInfo> regs = unit.registers();
                long[] before = peekAll(unit, regs);
                DmaStatus bad = dev.dmaRead(UNMAPPED_IOVA, new byte[8]);
                say("device", "DMA read of 8 bytes at IOVA %#x (never mapped): %s (the device sees Unsupported"
                        + " Request)", UNMAPPED_IOVA, bad);
                long[] after = peekAll(unit, regs);
                boolean any = false;
                for (int i = 0; i < regs.size(); i++) {
                    if (before[i] != after[i]) {
                        any = true;
                        say("hardware", "%s %s: %#x -> %#x", unit.name(), regs.get(i).name(), before[i], after[i]);
                    }
                }
                if (!any) {
                    say("hardware", "%s recorded the fault without a register change (suppressed or queued only)",
                            unit.name());
                }
                explainFault(machine, unit, regs, before, after);
                say("driver", "the unit's fault interrupt ran the driver's handler, which consumed the record (where"
                        + " Linux logs it: dmar_fault() for VT-d, arm_smmu_evtq_thread() for SMMUv3)");

                MachineSnapshot snap = snapshot ? MachineSnapshot.capture(machine, fd) : null;

                long unmapped = fd.ioasUnmap(ioas, 0, -1L);
                fd.deviceDetach(devId, 0);
                fd.unbindDevice(devId);
                say("iommufd", "IOMMU_IOAS_UNMAP all (%#x bytes), detach, unbind: pinned_vm back to %d pages",
                        unmapped, proc.mm().pinnedVm());
                return new Outcome(readMatched, writeSeen, bad, hugePage, snap);
            }
        }
    }

    /**
     * Decodes the registers that changed, and the unit's event queue, with the model's {@link StructureDecoder}
     * over the unit's registers and the frames it reports (what {@code decode} would show from a snapshot).
     */
    private void explainFault(SimulatedMachine machine, IommuUnitModel unit, List<RegisterInfo> regs, long[] before,
            long[] after) {
        StructureDecoder decoder = SnapshotDecoding.decoderFor(unit.model(), DemoStory.class.getClassLoader());
        if (decoder == null) {
            return;
        }
        List<RegisterValues.Value> values = new ArrayList<>();
        Set<String> changed = new HashSet<>();
        for (int i = 0; i < regs.size(); i++) {
            values.add(new RegisterValues.Value(regs.get(i), after[i]));
            if (before[i] != after[i]) {
                changed.add(regs.get(i).name());
            }
        }
        Set<Long> frames = new HashSet<>();
        unit.visitStructureFrames(pa -> frames.add(pa & -4096L));
        PhysicalMemory mem = machine.memory();
        MemoryView view = new MemoryView() {
            @Override
            public boolean contains(long pa) {
                return frames.contains(pa & -4096L);
            }

            @Override
            public long read64(long pa) {
                return contains(pa) ? mem.read64(pa) : 0;
            }
        };
        DecodedNode decoded = decoder.decode(new RegisterValues(values), view, List.of());
        for (DecodedNode group : decoded.children()) {
            for (DecodedNode n : group.children()) {
                if (n.kind() == DecodedNode.Kind.REGISTER && changed.contains(n.name()) && !n.children().isEmpty()) {
                    say("hardware", "%s decoded: %s", n.name(), DecodedText.inlineFields(n));
                }
            }
            if (group.kind() == DecodedNode.Kind.TABLE && group.name().equals("event queue")
                    && !group.children().isEmpty()) {
                DecodedNode last = group.children().get(group.children().size() - 1);
                say("hardware", "%s %s: %s", last.name(), last.meaning(), DecodedText.inlineFields(last));
            }
        }
    }

    private static long[] peekAll(IommuUnitModel unit, List<RegisterInfo> regs) {
        long[] v = new long[regs.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = unit.peekRegister(regs.get(i));
        }
        return v;
    }

    private static String ram(SimulatedMachine machine) {
        StringBuilder b = new StringBuilder();
        for (var r : machine.memory().ram()) {
            b.append(b.length() == 0 ? "" : " + ").append(size(r.size())).append(String.format(" at %#x", r.base()));
        }
        return b.toString();
    }

    static String size(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " bytes";
    }

    private void say(String layer, String format, Object... args) {
        out.printf("[%-8s] %s%n", layer, String.format(format, args));
    }
}
