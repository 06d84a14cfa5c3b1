package dev.iommufd.spi.hw;

/**
 * The mutable result of one {@link IommuUnitModel#translate} call. Reused by the caller so that a translation
 * allocates nothing.
 */
public final class Translation {
    /** The access was translated: {@link #physicalAddress()} is valid. */
    public static final int OK = 0;
    /** The unit faulted the access (and recorded or suppressed the fault as configured). */
    public static final int FAULT = 1;
    /** The unit faulted the access and queued a page request (PRI); the device may retry after the response. */
    public static final int PAGE_REQUEST = 2;

    /** Access bit: read. */
    public static final int ACCESS_READ = 1;
    /** Access bit: write. */
    public static final int ACCESS_WRITE = 2;
    /** Access bit: execute (instruction fetch). */
    public static final int ACCESS_EXEC = 4;
    /** Access bit: privileged (supervisor) request. */
    public static final int ACCESS_PRIV = 8;

    private int status;
    private long physicalAddress;
    private long pageSize;
    private int faultReason;

    /** Marks success: the access's address translates to {@code pa}, inside a page of {@code pageSize} bytes. */
    public Translation ok(long pa, long pageSize) {
        this.status = OK;
        this.physicalAddress = pa;
        this.pageSize = pageSize;
        this.faultReason = 0;
        return this;
    }

    /** Marks a fault with the architecture's reason code (VT-d fault reason, SMMUv3 event type, ...). */
    public Translation fault(int reason) {
        this.status = FAULT;
        this.faultReason = reason;
        this.physicalAddress = 0;
        this.pageSize = 0;
        return this;
    }

    /** Marks a fault for which a page request was queued. */
    public Translation pageRequest(int reason) {
        fault(reason);
        this.status = PAGE_REQUEST;
        return this;
    }

    public int status() {
        return status;
    }

    public boolean isOk() {
        return status == OK;
    }

    /** The physical address of the translated byte. */
    public long physicalAddress() {
        return physicalAddress;
    }

    /** The size of the page the translation came from (the access may continue to its end). */
    public long pageSize() {
        return pageSize;
    }

    /** Bytes from the translated address to the end of its page. */
    public long remainingInPage() {
        return pageSize - (physicalAddress & (pageSize - 1));
    }

    /** The architecture's fault reason/event code, valid when not OK. */
    public int faultReason() {
        return faultReason;
    }
}
