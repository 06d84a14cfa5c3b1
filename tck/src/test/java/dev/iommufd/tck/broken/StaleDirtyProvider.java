package dev.iommufd.tck.broken;

import dev.iommufd.mock.MockDomain;
import dev.iommufd.mock.hw.MockIoPte;
import dev.iommufd.mock.hw.MockTableWalker;
import dev.iommufd.platform.PhysicalMemory;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IotlbGather;

/**
 * Defect: read_and_clear_dirty clears the IOPTE dirty bits itself and tells the core nothing (no range in the
 * gather, no invalidation), so the unit's IOTLB keeps entries cached as already dirty and later writes are lost.
 */
public final class StaleDirtyProvider extends WrappingProvider {
    public static final String ID = "broken-dirtyflush";

    private volatile PhysicalMemory memory;

    @Override
    public String id() {
        return ID;
    }

    @Override
    protected String defect() {
        return "no IOTLB flush after clearing dirty bits";
    }

    @Override
    public IommuDriver bind(DriverContext context) {
        memory = context.machine().memory();
        return super.bind(context);
    }

    @Override
    protected WrappingDomain wrapDomain(WrappingDriver driver, IommuDomain inner) {
        return new WrappingDomain(driver, inner) {
            @Override
            public void readAndClearDirty(long iova, long size, int flags, DirtyRecorder dirty) {
                if (dirty == null || (flags & DIRTY_NO_CLEAR) != 0 || !(inner instanceof MockDomain)) {
                    inner.readAndClearDirty(iova, size, flags, dirty);
                    return;
                }
                long root = ((MockDomain) inner).rootTable();
                inner.readAndClearDirty(iova, size, flags | DIRTY_NO_CLEAR, new DirtyRecorder() {
                    private final IotlbGather unused = new IotlbGather();

                    @Override
                    public void record(long at, long length) {
                        dirty.record(at, length);
                        long walked = MockTableWalker.walk(memory, root, at);
                        if (walked >= 0) {
                            memory.getAndClear64(walked & ~MockTableWalker.RESULT_BLOCK, MockIoPte.DIRTY); // the defect: no flush
                        }
                    }

                    @Override
                    public IotlbGather gather() {
                        return unused;
                    }
                });
                dirty.gather().reset();
            }
        };
    }
}
