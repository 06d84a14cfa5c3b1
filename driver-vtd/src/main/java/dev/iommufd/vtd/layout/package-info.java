/**
 * VT-d formats as the specification lays them out: registers, root/context/PASID entries, paging entries,
 * invalidation and page request descriptors, fault records. Pure layout (constants and static encode/decode of
 * raw words, each with its bit diagram), shared by the driver and the hardware model because it is the spec, not
 * state.
 */
package dev.iommufd.vtd.layout;
