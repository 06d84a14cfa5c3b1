package dev.iommufd.vtd;

/**
 * What a domain must invalidate when its mappings change (Linux {@code struct cache_tag}): on {@code unit}, the
 * IOTLB entries tagged {@code did} (and {@code pasid} for first-stage and nested domains), and the device TLB of
 * {@code rid} when ATS is used. Immutable.
 */
final class CacheTag {
    final VtdDevice device;
    final DmarUnit unit;
    final int did;
    final int rid;
    /** 0 for requests without PASID (RID_PASID), else the attached PASID. */
    final int pasid;
    final boolean ats;

    CacheTag(VtdDevice device, int did, int pasid) {
        this.device = device;
        this.unit = device.unit;
        this.did = did;
        this.rid = device.rid;
        this.pasid = pasid;
        this.ats = device.ats;
    }
}
