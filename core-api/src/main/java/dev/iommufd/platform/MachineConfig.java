package dev.iommufd.platform;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What to build: a profile, RAM, IOMMU units and PCI functions.
 *
 * <pre>{@code
 * MachineConfig cfg = MachineConfig.builder(MachineProfile.Q35)
 *         .ramSize(1L << 30)
 *         .iommu(IommuUnitConfig.of("dmar0", "vtd", "qemu"))
 *         .device(PciFunctionSpec.endpoint("0000:00:04.0", "dmar0"))
 *         .build();
 * }</pre>
 */
public record MachineConfig(MachineProfile profile, long ramSize, List<IommuUnitConfig> iommus, List<PciFunctionSpec> devices) {

    /** 1 GiB. */
    public static final long DEFAULT_RAM_SIZE = 1L << 30;

    public MachineConfig {
        Objects.requireNonNull(profile, "profile");
        iommus = List.copyOf(iommus);
        devices = List.copyOf(devices);
        profile.ramLayout(ramSize); // validates
    }

    public static Builder builder(MachineProfile profile) {
        return new Builder(profile);
    }

    /** A mutable builder. */
    public static final class Builder {
        private final MachineProfile profile;
        private long ramSize = DEFAULT_RAM_SIZE;
        private final List<IommuUnitConfig> iommus = new ArrayList<>();
        private final List<PciFunctionSpec> devices = new ArrayList<>();

        private Builder(MachineProfile profile) {
            this.profile = Objects.requireNonNull(profile);
        }

        public Builder ramSize(long bytes) {
            this.ramSize = bytes;
            return this;
        }

        public Builder iommu(IommuUnitConfig unit) {
            iommus.add(unit);
            return this;
        }

        public Builder device(PciFunctionSpec spec) {
            devices.add(spec);
            return this;
        }

        public MachineConfig build() {
            return new MachineConfig(profile, ramSize, iommus, devices);
        }
    }
}
