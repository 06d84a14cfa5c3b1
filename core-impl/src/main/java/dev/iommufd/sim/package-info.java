/**
 * The simulated platform: the implementation of {@link dev.iommufd.platform}.
 *
 * <ul>
 *   <li>{@link dev.iommufd.sim.SimulatedMachine}: built from a {@link dev.iommufd.platform.MachineConfig}; owns
 *       everything below and instantiates IOMMU hardware models found by
 *       {@link dev.iommufd.drivers.HardwareModelCatalog}.
 *   <li>{@link dev.iommufd.sim.SparsePhysicalMemory}: RAM as lazily created {@code long[512]} frames behind a chunked
 *       directory; {@link dev.iommufd.sim.BuddyFrameAllocator}: orders 0..18 over bitmaps.
 *   <li>{@link dev.iommufd.sim.SimulatedMmioBus}: register windows; {@link dev.iommufd.sim.SimulatedInterruptController}:
 *       MSI vectors per profile.
 *   <li>{@link dev.iommufd.sim.SimulatedPciTopology}: functions, IOMMU groups, and the translate-and-copy DMA path.
 *   <li>User processes, memfds, long-term pins and locked/pinned memory accounting (package-private classes behind
 *       {@link dev.iommufd.platform.UserProcess}, {@link dev.iommufd.platform.MemFd},
 *       {@link dev.iommufd.platform.UserAccount} and {@link dev.iommufd.platform.MmAccounting}).
 * </ul>
 *
 * <p>Lock order, outermost first: a process's mmap lock, a memfd's lock, the machine's long-term pin table, the frame
 * allocator. Hot paths (memory word access, DMA on translation hits, frame allocation) allocate no Java objects.
 */
package dev.iommufd.sim;
