package dev.iommufd.core;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.IotlbGather;

/**
 * The user's dirty bitmap of IOMMU_HWPT_GET_DIRTY_BITMAP ({@code struct iova_bitmap} with
 * {@code iommu_dirty_bitmap}): bit {@code k} (little-endian, bit {@code k % 8} of byte {@code k / 8} of the user
 * buffer at {@code data}) stands for IOVA {@code [iova + k * page_size, iova + (k + 1) * page_size)}.
 *
 * <p>Bits are only ever SET: each recorded range is OR'ed into user memory (read-modify-write of the bytes it
 * touches), bits the user had set stay set. A range outside {@code [iova, iova + length)} is clipped. Every
 * recorded range also goes into {@link #gather()} so that the caller flushes the IOTLB after clearing dirty bits.
 * A user buffer that cannot be read or written stops reporting silently (the kernel discards the error of
 * {@code iova_bitmap_for_each}); {@link #faulted()} tells.
 *
 * <p>Allocation: one 256-byte scratch buffer per bitmap; {@link #record} allocates nothing. Not thread-safe (one
 * ioctl).
 */
final class IovaBitmap implements DirtyRecorder {
    private static final int SCRATCH = 256;
    private final UserProcess process;
    private final long data;
    private final long iova;
    private final long last;
    private final int pgshift;
    private final boolean reportBits;
    private final IotlbGather gather = new IotlbGather();
    private final byte[] scratch;
    private boolean faulted;

    /**
     * @param pageSize a power of two (the bit granule)
     */
    IovaBitmap(UserProcess process, long data, long iova, long length, long pageSize) {
        this.process = process;
        this.data = data;
        this.iova = iova;
        this.last = iova + length - 1;
        this.pgshift = Long.numberOfTrailingZeros(pageSize);
        this.reportBits = true;
        this.scratch = new byte[SCRATCH];
    }

    /** A recorder that only feeds the gather (clearing dirty bits before tracking is enabled). */
    private IovaBitmap() {
        this.process = null;
        this.data = 0;
        this.iova = 0;
        this.last = -1L;
        this.pgshift = 0;
        this.reportBits = false;
        this.scratch = null;
    }

    static IovaBitmap clearOnly() {
        return new IovaBitmap();
    }

    @Override
    public boolean hasBitmap() {
        return reportBits;
    }

    @Override
    public IotlbGather gather() {
        return gather;
    }

    /** Whether writing the user bitmap failed (reporting stopped there). */
    boolean faulted() {
        return faulted;
    }

    /** {@code iommu_dirty_bitmap_record}: sets the bits of {@code [start, start + length)} and gathers the range. */
    @Override
    public void record(long start, long length) {
        if (length <= 0) {
            return;
        }
        gather.addRange(start, length);
        if (!reportBits || faulted) {
            return;
        }
        long end = start + length - 1;
        long s = Long.compareUnsigned(start, iova) < 0 ? iova : start;
        long e = Long.compareUnsigned(end, last) > 0 ? last : end;
        if (Long.compareUnsigned(s, e) > 0) {
            return;
        }
        long firstBit = (s - iova) >>> pgshift;
        long lastBit = (e - iova) >>> pgshift;
        try {
            setBits(firstBit, lastBit);
        } catch (ErrnoException ex) {
            faulted = true;
        }
    }

    /** ORs bits {@code [firstBit, lastBit]} into user memory, {@value #SCRATCH} bytes at a time. */
    private void setBits(long firstBit, long lastBit) {
        long firstByte = firstBit >>> 3;
        long lastByte = lastBit >>> 3;
        for (long b = firstByte; b <= lastByte; b += SCRATCH) {
            int n = (int) Math.min(SCRATCH, lastByte - b + 1);
            process.read(data + b, scratch, 0, n);
            for (int i = 0; i < n; i++) {
                long byteIdx = b + i;
                int lo = byteIdx == firstByte ? (int) (firstBit & 7) : 0;
                int hi = byteIdx == lastByte ? (int) (lastBit & 7) : 7;
                scratch[i] |= (byte) (((0xff << lo) & (0xff >>> (7 - hi))) & 0xff);
            }
            process.write(data + b, scratch, 0, n);
        }
    }
}
