/**
 * The Arm SMMUv3 hardware model (IHI0070): {@link dev.iommufd.smmuv3.hw.Smmuv3HardwareModelProvider} creates
 * units with the {@code qemu} or {@code server} ID-register presets. A unit has the architected register file,
 * consumes commands when CMDQ_PROD is written, records events and page requests into its queues and signals
 * MSIs, walks linear and 2-level stream tables and CD tables with the STE/CD validity checks, translates with
 * VMSAv8-64 stage-1, stage-2 and nested walks for 4K/16K/64K granules, performs HTTU (access flag and dirty state)
 * with atomic compare-and-set, and caches configuration and translations until the commands invalidate them.
 * It reads only its registers and physical memory.
 */
package dev.iommufd.smmuv3.hw;
