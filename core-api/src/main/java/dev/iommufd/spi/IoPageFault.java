package dev.iommufd.spi;

/**
 * One page request from a device, as a driver reports it to the core (the kernel's
 * {@code struct iommu_fault_page_request}). The core groups requests by {@code grpid} until one with
 * {@link #FLAG_LAST_PAGE}, queues the group to the fault object of the domain the device/PASID is attached to,
 * and answers with {@link IommuDriver#pageResponse}.
 *
 * @param flags {@link #FLAG_PASID_VALID}, {@link #FLAG_LAST_PAGE}, {@link #FLAG_PRIV_DATA}, {@link #FLAG_RESP_NEEDS_PASID}
 * @param pasid valid when {@link #FLAG_PASID_VALID}
 * @param grpid the PRI page request group index
 * @param perm {@link #PERM_READ} | {@link #PERM_WRITE} | {@link #PERM_EXEC} | {@link #PERM_PRIV}
 * @param addr the faulting page address
 * @param privateData0 device-private data, valid when {@link #FLAG_PRIV_DATA}
 * @param privateData1 second word of device-private data
 */
public record IoPageFault(int flags, int pasid, int grpid, int perm, long addr, long privateData0, long privateData1) {
    public static final int FLAG_PASID_VALID = 1 << 0;
    public static final int FLAG_LAST_PAGE = 1 << 1;
    public static final int FLAG_PRIV_DATA = 1 << 2;
    public static final int FLAG_RESP_NEEDS_PASID = 1 << 3;

    public static final int PERM_READ = 1 << 0;
    public static final int PERM_WRITE = 1 << 1;
    public static final int PERM_EXEC = 1 << 2;
    public static final int PERM_PRIV = 1 << 3;

    public boolean lastPage() {
        return (flags & FLAG_LAST_PAGE) != 0;
    }

    public boolean pasidValid() {
        return (flags & FLAG_PASID_VALID) != 0;
    }
}
