package dev.iommufd.benchmarks;

import dev.iommufd.platform.MachineProfile;
import dev.iommufd.smmuv3.Smmuv3DriverProvider;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.vtd.VtdDriverProvider;

/**
 * The page-table formats the suite measures, each with the machine that carries it.
 *
 * <ul>
 *   <li>{@link #VTD_SS}: Intel VT-d second-stage tables (4-level, 48-bit, 4K/2M/1G leaves) on a q35 machine whose
 *       DMAR unit uses the {@code qemu} preset (legacy mode: a paging domain is always second stage).
 *   <li>{@link #SMMUV3_LPAE4K}: Arm SMMUv3 stage-1 AArch64 LPAE tables with the 4 KiB granule (4K/2M/1G leaves) on
 *       a virt machine, {@code qemu} preset (stage 1 only; the driver picks the 4K granule, as Linux does with
 *       4 KiB CPU pages).
 * </ul>
 * The dirty-tracking scenario (B10) needs the {@code server} presets (VT-d ECAP.SLADS in scalable mode, which makes
 * the domain second stage; SMMUv3 HTTU on stage 1): see {@link #dirtyPreset}.
 */
public enum Format {
    VTD_SS(MachineProfile.Q35, "dmar0", "vtd", "qemu", "server", 1024),
    SMMUV3_LPAE4K(MachineProfile.VIRT, "smmu0", "smmuv3", "qemu", "server", 4096);

    final MachineProfile profile;
    final String unit;
    final String model;
    final String preset;
    final String dirtyPreset;
    /** Entries of the hardware model's IOTLB (VtdUnit: 1024, Smmuv3Unit: 4096); B7 fills half of it. */
    final int iotlbEntries;

    Format(MachineProfile profile, String unit, String model, String preset, String dirtyPreset, int iotlbEntries) {
        this.profile = profile;
        this.unit = unit;
        this.model = model;
        this.preset = preset;
        this.dirtyPreset = dirtyPreset;
        this.iotlbEntries = iotlbEntries;
    }

    IommuDriverProvider provider() {
        return this == VTD_SS ? new VtdDriverProvider() : new Smmuv3DriverProvider();
    }

    /** The name used in reports and JSON ({@code vtd-ss}, {@code smmuv3-lpae4k}). */
    public String label() {
        return this == VTD_SS ? "vtd-ss" : "smmuv3-lpae4k";
    }
}
