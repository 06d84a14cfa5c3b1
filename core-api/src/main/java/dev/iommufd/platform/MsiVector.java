package dev.iommufd.platform;

/**
 * An MSI message: the address/data pair a device writes to raise an interrupt. Software programs it into the
 * device's registers (VT-d FEADDR/FEDATA, SMMUv3 *_IRQ_CFG0/1); the hardware model writes it back through
 * {@link InterruptController#signal} when it interrupts.
 */
public record MsiVector(long address, int data, String name) {
}
