package dev.iommufd.tck.broken;

import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DirtyRecorder;
import dev.iommufd.spi.DomainGeometry;
import dev.iommufd.spi.DomainType;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.UserDataArray;

/** A mock domain passed through; subclasses break one operation. */
class WrappingDomain implements IommuDomain {
    final IommuDomain inner;
    final WrappingDriver driver;

    WrappingDomain(WrappingDriver driver, IommuDomain inner) {
        this.driver = driver;
        this.inner = inner;
    }

    @Override
    public DomainType type() {
        return inner.type();
    }

    @Override
    public IommuDriver driver() {
        return driver;
    }

    @Override
    public DomainGeometry geometry() {
        return inner.geometry();
    }

    @Override
    public int allocFlags() {
        return inner.allocFlags();
    }

    @Override
    public long mapPages(long iova, long paddr, long pgsize, long pgcount, int prot) {
        return inner.mapPages(iova, paddr, pgsize, pgcount, prot);
    }

    @Override
    public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
        return inner.unmapPages(iova, pgsize, pgcount, gather);
    }

    @Override
    public void iotlbSync(IotlbGather gather) {
        inner.iotlbSync(gather);
    }

    @Override
    public void iotlbSyncMap(long iova, long size) {
        inner.iotlbSyncMap(iova, size);
    }

    @Override
    public void flushIotlbAll() {
        inner.flushIotlbAll();
    }

    @Override
    public long iovaToPhys(long iova) {
        return inner.iovaToPhys(iova);
    }

    @Override
    public boolean enforceCacheCoherency() {
        return inner.enforceCacheCoherency();
    }

    @Override
    public void setDirtyTracking(boolean enable) {
        inner.setDirtyTracking(enable);
    }

    @Override
    public void readAndClearDirty(long iova, long size, int flags, DirtyRecorder dirty) {
        inner.readAndClearDirty(iova, size, flags, dirty);
    }

    @Override
    public int cacheInvalidateUser(UserDataArray entries) {
        return inner.cacheInvalidateUser(entries);
    }

    @Override
    public void attachDevice(DeviceHandle device) {
        inner.attachDevice(WrappingDriver.unwrap(device));
    }

    @Override
    public void setDevicePasid(DeviceHandle device, int pasid, IommuDomain old) {
        inner.setDevicePasid(WrappingDriver.unwrap(device), pasid, WrappingDriver.unwrap(old));
    }

    @Override
    public void free() {
        inner.free();
    }
}
