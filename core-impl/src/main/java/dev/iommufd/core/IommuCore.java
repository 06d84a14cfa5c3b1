package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.platform.IommuGroup;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IoPageFault;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.PageResponse;
import dev.iommufd.spi.Viommu;
import dev.iommufd.spi.ViommuEventSink;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The machine's IOMMU core ({@code drivers/iommu/iommu.c}) as far as iommufd needs it: the drivers bound to the
 * machine's IOMMU units, the devices they probed, and DMA ownership of IOMMU groups
 * ({@code iommu_device_claim_dma_owner}).
 *
 * <h2>Drivers</h2>
 * Explicitly bound providers ({@link #bind}) come first; on the first lookup, every provider on the class path
 * whose {@code probe} accepts the machine and that drives a unit not yet claimed is bound too. A function belongs
 * to the driver whose {@link IommuDriver#units()} contains its {@code iommuUnit}.
 *
 * <h2>Ownership</h2>
 * A group is owned by one owner cookie at a time (an iommufd context); a second claim with the same cookie only
 * counts up, another cookie gets EBUSY. A function can be bound once (EBUSY for a second bind, in any context).
 *
 * <h2>Faults</h2>
 * The core is the drivers' {@link FaultSink} and {@link ViommuEventSink}. Page requests are handed to the
 * iommufd fault delivery installed with {@link #setFaultHandler} (the subsystem installs its FAULT-queue router);
 * without one, a group's last page request is answered INVALID, as the kernel does for a device with no
 * fault-capable domain. vIOMMU events go to {@link #setEventHandler}'s vEVENTQ delivery, or are counted lost.
 *
 * <p>Thread-safe: all state is guarded by {@code this}; drivers are called outside it except for
 * {@code probeDevice}/{@code releaseDevice}.
 */
public final class IommuCore implements FaultSink, ViommuEventSink {
    private final Machine machine;
    private final List<IommuDriver> drivers = new ArrayList<>();
    private boolean discovered;
    private final Map<PciFunction, DeviceHandle> probed = new HashMap<>();
    private final Map<IommuGroup, Ownership> owners = new HashMap<>();
    private final Map<PciFunction, Object> bound = new HashMap<>();
    private volatile FaultSink faultHandler;
    private volatile ViommuEventSink eventHandler;
    private final AtomicLong lostEvents = new AtomicLong();
    private final AtomicLong autoResponses = new AtomicLong();

    private static final class Ownership {
        final Object owner;
        int count;

        Ownership(Object owner) {
            this.owner = owner;
        }
    }

    IommuCore(Machine machine) {
        this.machine = machine;
    }

    // ---------------------------------------------------------------- drivers

    /**
     * Binds {@code provider} to the machine (initialising its units).
     *
     * @throws ErrnoException EEXIST when a driver already drives one of its units; the provider's bind errors
     */
    public IommuDriver bind(IommuDriverProvider provider) {
        synchronized (this) {
            for (IommuDriver d : drivers) {
                if (d.provider().id().equals(provider.id())) {
                    throw ErrnoException.of(Errno.EEXIST, "driver %s is already bound to the machine", provider.id());
                }
                // Refuse before provider.bind: binding initialises the units through their registers, which would
                // take a unit away from the driver already driving it (and its close() would then disable it).
                for (dev.iommufd.spi.hw.IommuUnitModel u : machine.iommuUnits()) {
                    if (provider.hardwareModels().contains(u.model()) && d.units().contains(u.name())) {
                        throw ErrnoException.of(Errno.EEXIST, "unit %s is already driven by %s", u.name(), d.provider().id());
                    }
                }
            }
        }
        IommuDriver driver = provider.bind(new Context());
        synchronized (this) {
            for (IommuDriver d : drivers) {
                for (String u : driver.units()) {
                    if (d.units().contains(u)) {
                        driver.close();
                        throw ErrnoException.of(Errno.EEXIST, "unit %s is already driven by %s", u, d.provider().id());
                    }
                }
            }
            drivers.add(driver);
        }
        return driver;
    }

    /** The bound drivers; binds every available provider on the class path on first use. */
    public List<IommuDriver> drivers() {
        boolean discover;
        synchronized (this) {
            discover = !discovered;
            discovered = true;
        }
        if (discover) {
            for (IommuDriverProvider p : DriverCatalog.load().all()) {
                if (!p.probe(machine).available()) {
                    continue;
                }
                boolean already;
                synchronized (this) {
                    already = false;
                    for (IommuDriver d : drivers) {
                        already |= d.provider().id().equals(p.id());
                    }
                }
                if (!already) {
                    try {
                        bind(p);
                    } catch (ErrnoException e) {
                        // Another driver owns the units (EEXIST) or the units are unusable: leave it unbound.
                    }
                }
            }
        }
        synchronized (this) {
            return List.copyOf(drivers);
        }
    }

    /**
     * The driver of {@code function}'s IOMMU unit.
     *
     * @throws ErrnoException ENODEV when no bound driver drives that unit
     */
    public IommuDriver driverOf(PciFunction function) {
        for (IommuDriver d : drivers()) {
            if (d.units().contains(function.iommuUnit())) {
                return d;
            }
        }
        throw ErrnoException.of(Errno.ENODEV, "no IOMMU driver is bound to unit %s of %s", function.iommuUnit(),
                function.address());
    }

    /**
     * {@code iommu_probe_device}: the driver's handle of {@code function}, probed once and kept until
     * {@link #release}.
     */
    public DeviceHandle probe(PciFunction function) {
        IommuDriver driver = driverOf(function);
        synchronized (this) {
            DeviceHandle h = probed.get(function);
            if (h == null) {
                h = driver.probeDevice(function);
                probed.put(function, h);
            }
            return h;
        }
    }

    /**
     * {@code iommu_release_device} (the device is removed): the function must not be bound.
     *
     * @throws ErrnoException EBUSY while the function is bound
     */
    public synchronized void release(PciFunction function) {
        if (bound.containsKey(function)) {
            throw ErrnoException.of(Errno.EBUSY, "%s is still bound to iommufd", function.address());
        }
        DeviceHandle h = probed.remove(function);
        if (h != null) {
            h.driver().releaseDevice(h);
        }
    }

    // ---------------------------------------------------------------- DMA ownership

    /**
     * Binding claim: {@code iommu_device_claim_dma_owner(dev, owner)} plus "one bind per function".
     *
     * @throws ErrnoException EBUSY when the function is bound already or its group is owned by another owner
     */
    synchronized void claim(PciFunction function, Object owner) {
        if (bound.containsKey(function)) {
            throw ErrnoException.of(Errno.EBUSY, "%s is already bound to an iommufd", function.address());
        }
        IommuGroup group = function.group();
        Ownership o = owners.get(group);
        if (o != null && o.owner != owner) {
            throw ErrnoException.of(Errno.EBUSY, "IOMMU group %d of %s is owned by another iommufd", group.id(),
                    function.address());
        }
        if (o == null) {
            o = new Ownership(owner);
            owners.put(group, o);
        }
        o.count++;
        bound.put(function, owner);
    }

    /** {@code iommu_device_release_dma_owner}. */
    synchronized void unclaim(PciFunction function, Object owner) {
        if (bound.get(function) != owner) {
            throw new IllegalStateException(function.address() + " is not bound by this owner");
        }
        bound.remove(function);
        Ownership o = owners.get(function.group());
        if (--o.count == 0) {
            owners.remove(function.group());
        }
    }

    /** Whether {@code function} is bound to some iommufd. */
    public synchronized boolean isBound(PciFunction function) {
        return bound.containsKey(function);
    }

    // ---------------------------------------------------------------- sinks

    /** Installs iommufd's fault delivery (FAULT objects); null restores the automatic INVALID response. */
    public void setFaultHandler(FaultSink handler) {
        this.faultHandler = handler;
    }

    @Override
    public void reportPageFault(DeviceHandle device, IoPageFault fault) {
        FaultSink h = faultHandler;
        if (h != null) {
            h.reportPageFault(device, fault);
            return;
        }
        if (fault.lastPage()) {
            autoResponses.incrementAndGet();
            device.driver().pageResponse(device, new PageResponse(fault.pasid(), fault.pasidValid(), fault.grpid(),
                    PageResponse.INVALID));
        }
    }

    /** Installs iommufd's vIOMMU event delivery (vEVENTQs); null counts every event lost. */
    public void setEventHandler(ViommuEventSink handler) {
        this.eventHandler = handler;
    }

    /** The owner (iommufd context) {@code function} is bound by, or null. */
    synchronized Object ownerOf(PciFunction function) {
        return bound.get(function);
    }

    @Override
    public void reportEvent(Viommu viommu, int type, byte[] data) {
        ViommuEventSink h = eventHandler;
        if (h != null) {
            h.reportEvent(viommu, type, data);
            return;
        }
        lostEvents.incrementAndGet();
    }

    /** Page request groups answered INVALID because nothing handles faults. */
    public long autoResponses() {
        return autoResponses.get();
    }

    /** vIOMMU events dropped because no vEVENTQ exists. */
    public long lostEvents() {
        return lostEvents.get();
    }

    private final class Context implements DriverContext {
        @Override
        public Machine machine() {
            return machine;
        }

        @Override
        public FaultSink faultSink() {
            return IommuCore.this;
        }

        @Override
        public ViommuEventSink viommuEventSink() {
            return IommuCore.this;
        }
    }
}
