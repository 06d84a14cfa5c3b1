package dev.iommufd.api;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;

/**
 * The implementation behind {@link Iommufd#open}, found with {@link java.util.ServiceLoader} (core-impl registers
 * one).
 */
public interface IommufdProvider {

    /** Opens {@code /dev/iommu} on {@code machine} as {@code process}. */
    Iommufd open(Machine machine, UserProcess process);
}
