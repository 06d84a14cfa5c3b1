package dev.iommufd.tck.broken;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.HwInfo;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.ReservedRegion;
import dev.iommufd.spi.UserData;
import dev.iommufd.spi.Viommu;
import dev.iommufd.spi.ViommuEventSink;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** The mock driver behind wrapped handles and domains. Lock: this object's monitor guards the handle map. */
final class WrappingDriver implements IommuDriver {
    private final WrappingProvider provider;
    private final Map<DeviceHandle, WrappingDevice> devices = new IdentityHashMap<>();
    private IommuDriver inner;
    private WrappingDomain blocked;
    private WrappingDomain identity;

    private WrappingDriver(WrappingProvider provider) {
        this.provider = provider;
    }

    static WrappingDriver bind(WrappingProvider provider, IommuDriverProvider mock, DriverContext context) {
        WrappingDriver d = new WrappingDriver(provider);
        d.inner = mock.bind(new DriverContext() {
            @Override
            public Machine machine() {
                return context.machine();
            }

            @Override
            public FaultSink faultSink() {
                return (dev, fault) -> context.faultSink().reportPageFault(d.wrapperOf(dev), fault);
            }

            @Override
            public ViommuEventSink viommuEventSink() {
                return context.viommuEventSink();
            }
        });
        return d;
    }

    synchronized DeviceHandle wrapperOf(DeviceHandle inner) {
        DeviceHandle w = devices.get(inner);
        return w != null ? w : inner;
    }

    static DeviceHandle unwrap(DeviceHandle h) {
        return h instanceof WrappingDevice ? ((WrappingDevice) h).inner : h;
    }

    static IommuDomain unwrap(IommuDomain d) {
        return d instanceof WrappingDomain ? ((WrappingDomain) d).inner : d;
    }

    @Override
    public IommuDriverProvider provider() {
        return provider;
    }

    @Override
    public List<String> units() {
        return inner.units();
    }

    @Override
    public synchronized DeviceHandle probeDevice(PciFunction function) {
        DeviceHandle h = inner.probeDevice(function);
        return devices.computeIfAbsent(h, x -> new WrappingDevice(x, this));
    }

    @Override
    public synchronized void releaseDevice(DeviceHandle device) {
        inner.releaseDevice(unwrap(device));
        devices.remove(unwrap(device));
    }

    @Override
    public boolean deviceCapable(DeviceHandle device, Capability capability) {
        return provider.deviceCapable(device, capability, inner.deviceCapable(unwrap(device), capability));
    }

    @Override
    public HwInfo hwInfo(DeviceHandle device, int requestedType) {
        return inner.hwInfo(unwrap(device), requestedType);
    }

    @Override
    public List<ReservedRegion> reservedRegions(DeviceHandle device) {
        return inner.reservedRegions(unwrap(device));
    }

    @Override
    public IommuDomain allocPagingDomain(DeviceHandle device, int flags, UserData data) {
        provider.beforePagingAlloc(device, flags);
        return provider.wrapDomain(this, inner.allocPagingDomain(unwrap(device), flags, data));
    }

    @Override
    public IommuDomain allocNestedDomain(DeviceHandle device, IommuDomain parent, int flags, UserData data) {
        return provider.wrapDomain(this, inner.allocNestedDomain(unwrap(device), unwrap(parent), flags, data));
    }

    @Override
    public synchronized IommuDomain blockedDomain() {
        if (blocked == null) {
            blocked = new WrappingDomain(this, inner.blockedDomain());
        }
        return blocked;
    }

    @Override
    public synchronized IommuDomain identityDomain() {
        provider.beforeIdentityDomain();
        if (identity == null) {
            identity = new WrappingDomain(this, inner.identityDomain());
        }
        return identity;
    }

    @Override
    public void pageResponse(DeviceHandle device, PageResponse response) {
        inner.pageResponse(unwrap(device), response);
    }

    @Override
    public Viommu allocViommu(DeviceHandle device, IommuDomain parent, int type, UserData data) {
        return inner.allocViommu(unwrap(device), unwrap(parent), type, data);
    }

    @Override
    public void close() {
        inner.close();
    }
}
