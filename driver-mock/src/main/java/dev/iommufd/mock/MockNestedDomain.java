package dev.iommufd.mock;

import static dev.iommufd.mock.MockSelftestUapi.*;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.UserDataArray;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A mock nested domain (the kernel selftest's {@code struct mock_iommu_domain_nested}): four mock IOTLB values
 * set from {@code struct iommu_hwpt_selftest.iotlb} and cleared by user cache invalidation. DMA through it
 * translates as through its parent (the driver programs the parent's table root and tag into the context).
 *
 * <h2>Test hooks</h2>
 * {@link #iotlb(int)} (IOMMU_TEST_OP_MD_CHECK_IOTLB), {@link #parent()}, {@link #viommu()}.
 */
public final class MockNestedDomain implements IommuDomain {
    private final MockIommu driver;
    private final MockDomain parent;
    private final MockViommu viommu;
    private final int flags;
    private final AtomicIntegerArray iotlb = new AtomicIntegerArray(MOCK_NESTED_DOMAIN_IOTLB_NUM);

    MockNestedDomain(MockIommu driver, MockDomain parent, MockViommu viommu, int flags, int iotlbValue) {
        this.driver = driver;
        this.parent = parent;
        this.viommu = viommu;
        this.flags = flags;
        for (int i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
            iotlb.set(i, iotlbValue);
        }
    }

    @Override
    public DomainType type() {
        return DomainType.NESTED;
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public int allocFlags() {
        return flags;
    }

    /** The nest-parent paging domain. */
    public MockDomain parent() {
        return parent;
    }

    /** The vIOMMU it was allocated through, or null. */
    public MockViommu viommu() {
        return viommu;
    }

    /**
     * {@code mock_hwpt_cache_invalidate}: entries of {@code struct iommu_hwpt_invalidate_selftest}, in order.
     * A wrong array type is EINVAL; per entry: a bad length EINVAL, flags other than FLAG_ALL EOPNOTSUPP, an
     * iotlb_id above MOCK_NESTED_DOMAIN_IOTLB_ID_MAX EINVAL; FLAG_ALL zeroes all four values, else the named one.
     */
    @Override
    public int cacheInvalidateUser(UserDataArray entries) {
        int done = 0;
        try {
            if (entries.type() != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) {
                throw ErrnoException.of(Errno.EINVAL, "invalidation data_type %#x is not IOMMU_HWPT_INVALIDATE_DATA_SELFTEST",
                        entries.type());
            }
            for (; done < entries.entryCount(); done++) {
                ByteBuffer b = entries.copyEntry(done, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
                        IOMMU_HWPT_INVALIDATE_SELFTEST_SIZE, IOMMU_HWPT_INVALIDATE_SELFTEST_SIZE);
                int entryFlags = b.getInt(0);
                int id = b.getInt(4);
                if ((entryFlags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
                    throw ErrnoException.of(Errno.EOPNOTSUPP, "entry %d: flags %#x has unknown bits", done, entryFlags);
                }
                if (Integer.compareUnsigned(id, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) > 0) {
                    throw ErrnoException.of(Errno.EINVAL, "entry %d: iotlb_id %d is above %d", done,
                            Integer.toUnsignedLong(id), MOCK_NESTED_DOMAIN_IOTLB_ID_MAX);
                }
                if ((entryFlags & IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
                    for (int i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
                        iotlb.set(i, 0);
                    }
                } else {
                    iotlb.set(id, 0);
                }
            }
            return done;
        } catch (ErrnoException e) {
            throw e.withProgress(done);
        }
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        driver.attach(device, this);
    }

    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        driver.setPasid(device, pasid, this);
    }

    @Override
    public void free() {
        driver.freeNested(this);
    }

    /**
     * Test hook: IOMMU_TEST_OP_MD_CHECK_IOTLB reads {@code iotlb[id]}.
     *
     * @throws ErrnoException EINVAL for an id above MOCK_NESTED_DOMAIN_IOTLB_ID_MAX
     */
    public int iotlb(int id) {
        if (id < 0 || id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) {
            throw ErrnoException.of(Errno.EINVAL, "iotlb id %d is outside [0, %d]", id, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX);
        }
        return iotlb.get(id);
    }
}
