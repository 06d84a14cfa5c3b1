/**
 * SMMUv3 layouts shared by the driver and the hardware model: register offsets and fields, STE, CD, L1STD,
 * L1CD, VMSAv8-64 descriptors per granule, commands, event records and PRI records. Constants and static
 * encode/decode of raw words only: the specification, not state. Each layout is documented once, next to its
 * constants, with an ASCII bit diagram.
 */
package dev.iommufd.smmuv3.layout;
