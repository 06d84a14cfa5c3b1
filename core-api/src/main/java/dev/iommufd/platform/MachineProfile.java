package dev.iommufd.platform;

/**
 * Machine profiles whose memory maps follow QEMU's machines, so that a snapshot can be replayed in an emulator
 * with the same map.
 *
 * <ul>
 *   <li>{@code q35}: x86-64. RAM from 0 up to 2 GiB below the 4 GiB hole ({@code 0x8000_0000}), the rest from
 *       4 GiB. VT-d DMAR unit at {@code 0xfed9_0000}, AMD-Vi at {@code 0xfed8_0000}. The interrupt window
 *       {@code 0xfee0_0000-0xfeef_ffff} is never translated.
 *   <li>{@code virt}: Arm64. RAM from {@code 0x4000_0000}. SMMUv3 at {@code 0x0905_0000}.
 *   <li>{@code pseries}: POWER. RAM from 0; the TCE tables are reached through hypercalls/PHB registers
 *       (window registers at {@code 0x3fff_f000_0000} in this model).
 * </ul>
 */
public enum MachineProfile {
    Q35("q35", "x86-64", 0x0L, 0x8000_0000L, 0x1_0000_0000L),
    VIRT("virt", "aarch64", 0x4000_0000L, 0L, 0L),
    PSERIES("pseries", "ppc64", 0x0L, 0L, 0L);

    private final String id;
    private final String arch;
    private final long ramBase;
    private final long lowRamLimit;
    private final long highRamBase;

    MachineProfile(String id, String arch, long ramBase, long lowRamLimit, long highRamBase) {
        this.id = id;
        this.arch = arch;
        this.ramBase = ramBase;
        this.lowRamLimit = lowRamLimit;
        this.highRamBase = highRamBase;
    }

    /** The profile name as QEMU spells the machine. */
    public String id() {
        return id;
    }

    public String arch() {
        return arch;
    }

    /** Where RAM starts. */
    public long ramBase() {
        return ramBase;
    }

    /**
     * The RAM ranges for {@code ramSize} bytes of RAM: on q35, up to 2 GiB below 4 GiB and the rest above;
     * elsewhere one range from {@link #ramBase()}.
     */
    public java.util.List<MemoryRange> ramLayout(long ramSize) {
        if (ramSize <= 0 || (ramSize & (PhysicalMemory.FRAME_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("RAM size must be a positive multiple of 4 KiB: " + ramSize);
        }
        if (lowRamLimit != 0 && ramSize > lowRamLimit - ramBase) {
            return java.util.List.of(new MemoryRange(ramBase, lowRamLimit - ramBase),
                    new MemoryRange(highRamBase, ramSize - (lowRamLimit - ramBase)));
        }
        return java.util.List.of(new MemoryRange(ramBase, ramSize));
    }

    /** The default MMIO base for a unit of the given model on this profile (the QEMU machine's address). */
    public long defaultIommuBase(String model) {
        switch (this) {
            case Q35:
                if (model.equals("vtd")) {
                    return 0xfed9_0000L;
                }
                if (model.equals("amdvi")) {
                    return 0xfed8_0000L;
                }
                break;
            case VIRT:
                if (model.equals("smmuv3")) {
                    return 0x0905_0000L;
                }
                break;
            case PSERIES:
                if (model.equals("ppc-spapr")) {
                    return 0x3fff_f000_0000L;
                }
                break;
            default:
                break;
        }
        return testModelBase();
    }

    /**
     * A free MMIO hole for models without an address on the real machine (the mock IOMMU, test models): outside
     * RAM for every RAM size and clear of the profile's own devices. q35: {@code 0xfeb0_0000} (below the IOAPIC);
     * virt: {@code 0x0c00_0000} (QEMU's platform-bus window, below RAM at 1 GiB); pseries: {@code 0x3fff_f100_0000}
     * (next to the PHB window).
     */
    public long testModelBase() {
        switch (this) {
            case Q35:
                return 0xfeb0_0000L;
            case VIRT:
                return 0x0c00_0000L;
            default:
                return 0x3fff_f100_0000L;
        }
    }

    /** Looks a profile up by its {@link #id()}. */
    public static MachineProfile byId(String id) {
        for (MachineProfile p : values()) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown machine profile '" + id + "' (known: q35, virt, pseries)");
    }
}
