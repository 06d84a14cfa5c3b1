/**
 * The {@code mock} hardware model: a small IOMMU with a 4 KiB register window ({@link
 * dev.iommufd.mock.hw.MockRegisters}), a device table indexed by requester ID and per-device PASID tables
 * ({@link dev.iommufd.mock.hw.MockContextEntry}), three-level I/O page tables with 2 KiB pages and 1 MiB blocks
 * ({@link dev.iommufd.mock.hw.MockIoPte}), a tagged IOTLB that stays stale until software invalidates it
 * ({@link dev.iommufd.mock.hw.MockIotlb}), a fault-record ring ({@link dev.iommufd.mock.hw.MockFaultRecord}) and
 * a page-request queue signalled by MSI ({@link dev.iommufd.mock.hw.MockPageRequest}).
 *
 * <p>The formats are this project's own: the kernel's mock domain is software only, so the model gives it the
 * minimum hardware a real IOMMU has, shaped after the kernel mock's semantics (START/LAST markers, DIRTY bit,
 * 2 KiB granule, the selftest aperture). The walker ({@link dev.iommufd.mock.hw.MockTableWalker}) reads only
 * physical memory.
 */
package dev.iommufd.mock.hw;
