/**
 * Machine snapshots ({@code iommufd-sim.snapshot/1}, see docs/snapshot.md): what an IOMMU needs to translate a
 * device's DMA, captured from a live machine and iommufd state ({@link dev.iommufd.snapshot.MachineSnapshot#capture}),
 * written and read as JSON ({@link dev.iommufd.snapshot.SnapshotJson}) without a JSON library, and decoded field by
 * field by the hardware models' {@link dev.iommufd.spi.hw.StructureDecoder}s
 * ({@link dev.iommufd.snapshot.SnapshotDecoding}).
 */
package dev.iommufd.snapshot;
