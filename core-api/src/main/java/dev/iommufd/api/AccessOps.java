package dev.iommufd.api;

/**
 * What an in-kernel user of an IOAS supplies when it creates an access ({@code struct iommufd_access_ops}).
 */
public interface AccessOps {

    /**
     * {@code needs_pin_pages}: the access pins pages ({@link IommufdAccess#pinPages}); its IOAS then requires
     * PAGE_SIZE IOVA alignment. An access that only uses {@link IommufdAccess#rw} returns {@code false}.
     */
    boolean needsPinPages();

    /**
     * {@code unmap}: {@code [iova, iova + length)} is being unmapped from the IOAS. Before returning, the user must
     * have called {@link IommufdAccess#unpinPages} for every range it pinned that intersects it, with exactly the
     * {@code (iova, length)} it pinned. Called synchronously, without iommufd locks held, possibly several times
     * (IOAS_UNMAP retries, and fails with EDEADLOCK after 100 notifications that released nothing).
     */
    void unmap(IommufdAccess access, long iova, long length);
}
