/**
 * The Intel VT-d hardware model (model id {@code vtd}, presets {@code qemu} and {@code server}).
 *
 * <p>A unit reads only its registers and physical memory. It implements the register file with the spec's
 * access widths, the global command/status protocol, legacy and scalable-mode root/context lookup, PASID
 * directory and table lookup, first-stage (x86-64), second-stage and nested walks with A/D updates, the fault
 * reasons of the spec's scalable-mode and legacy tables, fault recording (NFR + 1 records, overflow, collapsing,
 * FPD), an IOTLB, context cache and PASID cache that keep stale entries until invalidated, register-based and
 * queued invalidation with queue errors, and the page request queue.
 */
package dev.iommufd.vtd.hw;
