/**
 * The Intel VT-d software driver (Linux {@code drivers/iommu/intel}), provider id {@code vtd}.
 *
 * <p>{@link dev.iommufd.vtd.VtdDriverProvider} binds to every unit of model {@code vtd} on a machine and programs
 * it only through MMIO registers and memory: fault event interrupt, queued invalidation (128-bit descriptors in
 * legacy mode, 256-bit in scalable mode), the page request queue, the root table, translation enable. Scalable
 * mode is used when the unit reports ECAP.SMTS and QI; otherwise legacy root/context tables with register-based
 * invalidation when there is no QI.
 *
 * <ul>
 *   <li>{@code DmarUnit}: one unit (registers, QI submission as {@code qi_submit_sync}, domain IDs, faults and
 *       page requests).
 *   <li>{@code VtdDevice}: a probed function with its context entry and PASID directory/tables.
 *   <li>{@code IoPageTable}: second-stage or first-stage (x86-64) tables as raw words in frames; allocation-free
 *       map/unmap/iova_to_phys, emptied tables queued on the {@link dev.iommufd.spi.IotlbGather}.
 *   <li>{@code PagingDomain}, {@code NestedDomain}, {@code BlockedDomain}, {@code IdentityDomain}: the domain
 *       kinds, with cache tags that drive precise invalidation (page-selective with an address mask, or
 *       domain-selective; PASID-based for first-stage and nested; device TLB for ATS).
 * </ul>
 *
 * <p>Which features a device gets follows its unit's CAP/ECAP ({@link dev.iommufd.spi.IommuDriver#deviceCapable}):
 * nesting needs ECAP.NEST, dirty tracking ECAP.SLADS, PASIDs ECAP.PASID, I/O page faults ECAP.PRS and a PRI
 * function, snoop enforcement ECAP.SC, identity ECAP.PT, all but the last two in scalable mode.
 */
package dev.iommufd.vtd;
