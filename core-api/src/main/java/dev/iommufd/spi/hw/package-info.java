/**
 * The hardware-model SPI: IOMMU units as silicon behaves.
 *
 * <p>A hardware model is found with {@link java.util.ServiceLoader} ({@link dev.iommufd.spi.hw.HardwareModelProvider})
 * and instantiated by the machine for every configured unit of its model id. A unit owns an MMIO register window
 * and a DMA translation entry point. It reads only physical memory and its own registers: never the software
 * driver's Java objects. That separation is what makes the project's "hardware-accurate" claim testable: a test
 * writes structures with the driver and decodes them with the model's independent walker.
 */
package dev.iommufd.spi.hw;
