package dev.iommufd.snapshot;

import dev.iommufd.core.HwPagetable;
import dev.iommufd.core.HwptPaging;
import dev.iommufd.core.IommufdDevice;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.ObjectKind;
import dev.iommufd.core.PinnedRun;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MemoryRange;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.RegisterValues;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A machine snapshot ({@code iommufd-sim.snapshot/1}): the RAM layout, each IOMMU unit's registers, the PCI
 * functions behind the units, the translations iommufd's state says each device should see, and every memory
 * frame the IOMMU hardware may read. Immutable.
 *
 * <p>Capture with {@link #capture}, write and read with {@link SnapshotJson}.
 *
 * @param profile the machine profile id ({@code q35}, {@code virt})
 * @param ram every RAM range
 * @param iommus the units, in machine order
 * @param devices the PCI functions behind a unit, by address
 * @param translations per device (and PASID) maximal runs of IOVA to physical address, from iommufd's IOAS areas
 *        and pinned PFNs
 * @param frames frame base address to its 4096 bytes, ascending
 */
public record MachineSnapshot(String profile, List<MemoryRange> ram, List<Unit> iommus, List<Device> devices,
        List<Mapping> translations, TreeMap<Long, byte[]> frames) {

    /** The schema id written in {@code "schema"}. */
    public static final String SCHEMA = "iommufd-sim.snapshot/1";

    /** {@code pasid} of a translation for DMA without PASID. */
    public static final int NO_PASID = -1;

    public MachineSnapshot {
        Objects.requireNonNull(profile, "profile");
        ram = List.copyOf(ram);
        iommus = List.copyOf(iommus);
        devices = List.copyOf(devices);
        translations = List.copyOf(translations);
        frames = new TreeMap<>(frames);
        for (var e : frames.entrySet()) {
            if ((e.getKey() & (PhysicalMemory.FRAME_SIZE - 1)) != 0 || e.getValue().length != PhysicalMemory.FRAME_SIZE) {
                throw new IllegalArgumentException(String.format("frame %#x is not one aligned 4 KiB frame", e.getKey()));
            }
        }
    }

    /** One IOMMU unit: its MMIO window and every architected register with its value. */
    public record Unit(String name, String model, long mmioBase, long mmioSize, List<RegisterValues.Value> registers) {
        public Unit {
            registers = List.copyOf(registers);
        }

        public RegisterValues registerValues() {
            return new RegisterValues(registers);
        }
    }

    /** A PCI function behind unit {@code iommu}. */
    public record Device(String bdf, int rid, String iommu, int pasidBits) {
    }

    /**
     * One maximal run: {@code size} bytes from {@code iova} reach {@code pa} onwards.
     *
     * @param pasid the PASID, or {@link #NO_PASID}
     */
    public record Mapping(String bdf, int pasid, long iova, long size, long pa, boolean read, boolean write) {
    }

    /**
     * Captures {@code machine} and the iommufd state of {@code contexts}: registers are read with
     * {@link IommuUnitModel#peekRegister} (no side effects), structure frames are those
     * {@link IommuUnitModel#visitStructureFrames} reports, translations come from the IOAS areas attached to each
     * bound device (its HWPT per PASID) and the PFNs pinned for them, never from a table walk. A nested HWPT's
     * translations depend on user-owned tables and are not listed.
     */
    public static MachineSnapshot capture(Machine machine, IommufdFd... contexts) {
        List<Unit> units = new ArrayList<>();
        TreeSet<Long> frameSet = new TreeSet<>();
        for (IommuUnitModel u : machine.iommuUnits()) {
            List<RegisterValues.Value> regs = new ArrayList<>();
            for (RegisterInfo r : u.registers()) {
                regs.add(new RegisterValues.Value(r, u.peekRegister(r)));
            }
            units.add(new Unit(u.name(), u.model(), u.mmioBase(), u.size(), regs));
            u.visitStructureFrames(pa -> frameSet.add(pa & -PhysicalMemory.FRAME_SIZE));
        }
        List<Device> devices = new ArrayList<>();
        for (PciFunction f : machine.pci().functions()) {
            devices.add(new Device(f.address().toString(), f.rid(), f.iommuUnit(), f.pasidBits()));
        }
        devices.sort(Comparator.comparing(Device::bdf));
        List<Mapping> translations = new ArrayList<>();
        for (IommufdFd fd : contexts) {
            for (IommufdDevice d : fd.context().objects().liveObjects(ObjectKind.DEVICE, IommufdDevice.class)) {
                for (int pasid : d.attachedPasids()) {
                    HwPagetable hwpt = d.attachedHwpt(pasid);
                    if (!(hwpt instanceof HwptPaging paging)) {
                        continue;
                    }
                    String bdf = d.function().address().toString();
                    int p = pasid == IommufdDevice.NO_PASID ? NO_PASID : pasid;
                    for (PinnedRun r : paging.ioas().iopt().pinnedRuns()) {
                        translations.add(new Mapping(bdf, p, r.iova(), r.length(), r.physicalAddress(),
                                (r.prot() & IoProt.READ) != 0, (r.prot() & IoProt.WRITE) != 0));
                    }
                }
            }
        }
        translations.sort(Comparator.comparing(Mapping::bdf).thenComparingInt(Mapping::pasid)
                .thenComparing(Mapping::iova, Long::compareUnsigned));
        TreeMap<Long, byte[]> frames = new TreeMap<>();
        PhysicalMemory mem = machine.memory();
        for (long base : frameSet) {
            if (!mem.isRam(base, PhysicalMemory.FRAME_SIZE)) {
                continue;
            }
            byte[] data = new byte[PhysicalMemory.FRAME_SIZE];
            for (int i = 0; i < data.length; i += 8) {
                long w = mem.read64(base + i);
                for (int b = 0; b < 8; b++) {
                    data[i + b] = (byte) (w >>> (8 * b));
                }
            }
            frames.put(base, data);
        }
        return new MachineSnapshot(machine.profile().id(), mem.ram(), units, devices, translations, frames);
    }

    /** The unit called {@code name}, or null. */
    public Unit unit(String name) {
        for (Unit u : iommus) {
            if (u.name().equals(name)) {
                return u;
            }
        }
        return null;
    }

    /** The snapshot's frames as a read-only {@link dev.iommufd.spi.hw.MemoryView}. */
    public SnapshotMemory memory() {
        return new SnapshotMemory(frames);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof MachineSnapshot s) || !profile.equals(s.profile) || !ram.equals(s.ram)
                || !iommus.equals(s.iommus) || !devices.equals(s.devices) || !translations.equals(s.translations)
                || !frames.keySet().equals(s.frames.keySet())) {
            return false;
        }
        for (var e : frames.entrySet()) {
            if (!java.util.Arrays.equals(e.getValue(), s.frames.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return Objects.hash(profile, ram, iommus, devices, translations, frames.keySet());
    }
}
