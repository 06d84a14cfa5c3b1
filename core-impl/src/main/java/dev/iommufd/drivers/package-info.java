/**
 * Discovery of IOMMU drivers ({@link dev.iommufd.drivers.DriverCatalog}) and hardware models
 * ({@link dev.iommufd.drivers.HardwareModelCatalog}) with {@link java.util.ServiceLoader}: ids validated, SPI version
 * checked, duplicate ids refused naming both jars.
 */
package dev.iommufd.drivers;
