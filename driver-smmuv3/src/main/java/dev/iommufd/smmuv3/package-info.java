/**
 * The Arm SMMUv3 software driver, modelled on Linux's {@code drivers/iommu/arm/arm-smmu-v3}.
 *
 * <p>It reaches the SMMU only through its MMIO registers ({@link dev.iommufd.platform.MmioBus}) and the structures
 * it writes into physical memory: the stream table ({@link dev.iommufd.smmuv3.StreamTable}), CD tables
 * ({@link dev.iommufd.smmuv3.ContextDescriptorTable}), VMSAv8-64 page tables
 * ({@link dev.iommufd.smmuv3.LpaeIoPageTable}, Linux's io-pgtable-arm) and the command/event/PRI queues
 * ({@link dev.iommufd.smmuv3.CommandQueue}, {@link dev.iommufd.smmuv3.SmmuInstance}). STEs and CDs change through
 * the hitless writer ({@link dev.iommufd.smmuv3.EntryWriter}, Linux's {@code arm_smmu_write_entry}), every step
 * followed by CFGI and CMD_SYNC.
 *
 * <p>Domains: stage-1 paging domains (an ASID, a CD), stage-2 paging domains (a VMID, STE S2 fields, also the
 * NEST_PARENT of nested domains), the blocked (abort STE) and identity (bypass STE) domains, nested domains made
 * from a guest vSTE through the vIOMMU ({@link dev.iommufd.smmuv3.Smmuv3Viommu}). PASIDs attach through the CD
 * table; ATS devices get ATC invalidations; PRI page requests reach the core's fault sink.
 */
package dev.iommufd.smmuv3;
