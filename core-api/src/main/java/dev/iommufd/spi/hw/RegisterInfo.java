package dev.iommufd.spi.hw;

/**
 * An architected register, for snapshots and decoders.
 *
 * @param offset byte offset in the unit's MMIO window
 * @param name the name as the architecture specification writes it ({@code RTADDR_REG}, {@code SMMU_IDR0})
 * @param width access width in bits (32 or 64)
 */
public record RegisterInfo(long offset, String name, int width) {
}
