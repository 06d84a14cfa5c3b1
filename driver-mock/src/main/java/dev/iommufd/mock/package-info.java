/**
 * The mock IOMMU driver: the kernel's iommufd selftest mock ({@code drivers/iommu/iommufd/selftest.c}) as a driver
 * of this project's SPI, over the {@code mock} hardware model ({@link dev.iommufd.mock.hw}). Provider id
 * {@code mock}. Test support for the selftest port, the TCK and end-to-end tests; not a product driver.
 *
 * <h2>What it mirrors</h2>
 * <ul>
 *   <li>Paging domains ({@link dev.iommufd.mock.MockDomain}): aperture {@code [MOCK_APERTURE_START 16 MiB,
 *       MOCK_APERTURE_LAST 2 GiB - 1]}, MOCK_IO_PAGE_SIZE 2 KiB pages (plus 1 MiB IOPTEs for devices created
 *       with MOCK_FLAGS_DEVICE_HUGE_IOVA, the v6.9-v6.17 mock's choice), flags NEST_PARENT | DIRTY_TRACKING | PASID,
 *       no user data (EOPNOTSUPP), START/LAST markers per map_pages call and the kernel mock's unmap/free WARN_ONs
 *       as observable warning counters.
 *   <li>The blocked domain (also the default domain) and an identity domain.
 *   <li>Nested domains ({@link dev.iommufd.mock.MockNestedDomain}) from IOMMU_HWPT_DATA_SELFTEST data with four
 *       mock IOTLB values and IOMMU_HWPT_INVALIDATE_DATA_SELFTEST user invalidation; DMA translates like the
 *       parent.
 *   <li>vIOMMUs of type IOMMU_VIOMMU_TYPE_SELFTEST ({@link dev.iommufd.mock.MockViommu}), vDEVICEs, vIOMMU
 *       invalidation of the per-device cache[4], vEVENTs of type IOMMU_VEVENTQ_TYPE_SELFTEST.
 *   <li>PASID attach (20 PASID bits for MOCK_FLAGS_DEVICE_PASID devices) with the IOMMU_TEST_PASID_RESERVED (1024)
 *       fake replace failure; hw_info IOMMU_HW_INFO_TYPE_SELFTEST; page requests and responses.
 * </ul>
 *
 * <h2>Test hooks (the core's IOMMU_TEST_CMD port calls these)</h2>
 * <pre>
 * IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS)  MockIommu.createDevice(machine, flags) -&gt; PciFunction (EINVAL: unknown flags)
 *                                    then probe/bind/attach as for any device
 * IOMMU_TEST_OP_MD_CHECK_MAP         MockDomain.iovaToPhys(iova) per MockDomain.checkMapPageSize() chunk
 * IOMMU_TEST_OP_DIRTY                MockDomain.markDirty(iova, length, pageSize, long[] bitmap) -&gt; out_nr_dirty
 *                                    (MockDomain.setDirty(iova) for one IOPTE)
 * IOMMU_TEST_OP_MD_CHECK_IOTLB       MockNestedDomain.iotlb(id)                 (EINVAL for id &gt; 3)
 * IOMMU_TEST_OP_DEV_CHECK_CACHE      MockDevice.cache(id)                       (EINVAL for id &gt; 3)
 * IOMMU_TEST_OP_TRIGGER_IOPF         MockDevice.triggerIopf(pasid, grpid, perm, addr)
 * IOMMU_TEST_OP_TRIGGER_VEVENT       MockDevice.triggerVevent()                 (ENOENT when not via a vIOMMU)
 * IOMMU_VIOMMU_ALLOC out fields      MockViommu.outputStruct(mmapOffset), mmapPhysicalAddress(), mmapLength()
 * IOMMU_HW_QUEUE_ALLOC               MockViommu.hwQueueTypeSupported(type), initHwQueue(index, iova, basePa),
 *                                    MockHwQueue.destroy() (EBUSY while the next queue exists)
 * kernel WARN_ON counters            MockIommu.warningCount(), MockDomain.warningCount()
 * page responses received            MockDevice.pageResponseCount(), lastPageResponse()
 * iommufd_should_fail() in map_pages MockIommu.setMapFailureInjector(BooleanSupplier)  (ENOENT, maps nothing)
 * TCK: a driver forgetting to flush  MockIommu.setInvalidationSuppressed(true)
 * </pre>
 * The core reaches these by casting: its {@code IommuDriver} to {@link dev.iommufd.mock.MockIommu}, a HWPT's
 * domain to {@link dev.iommufd.mock.MockDomain} / {@link dev.iommufd.mock.MockNestedDomain}, a device's handle to
 * {@link dev.iommufd.mock.MockDevice}, a vIOMMU to {@link dev.iommufd.mock.MockViommu}.
 */
package dev.iommufd.mock;
