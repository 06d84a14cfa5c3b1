package dev.iommufd.benchmarks;

import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.Machine;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.DriverContext;
import dev.iommufd.spi.FaultSink;
import dev.iommufd.spi.IommuDomain;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.ViommuEventSink;
import dev.iommufd.spi.hw.IommuUnitModel;
import java.util.Map;

/**
 * A machine with one IOMMU unit of a {@link Format}, its driver bound directly through the SPI (no iommufd core),
 * {@code devices} PCI endpoints behind the unit, and one paging domain attached to all of them: the object the
 * driver-level scenarios (B1-B4, B6, B7, B10, B13) call {@code mapPages}/{@code unmapPages}/{@code iotlbSync} on.
 *
 * <p>Table memory for mappings is backed by one physical block of {@link #BLOCK} bytes ({@link #blockPa}); larger
 * IOVA spans map it repeatedly (the tables do not care whether two IOVAs share a frame).
 */
public final class DomainFixture implements AutoCloseable, DriverContext {
    /** The physical block every mapping points into: 1 GiB, so that 1 GiB leaves have an aligned target. */
    public static final long BLOCK = 1L << 30;
    public static final long PAGE = 4096;
    public static final int RW = IoProt.READ | IoProt.WRITE;

    public final Format format;
    public final SimulatedMachine machine;
    public final IommuDriver driver;
    public final PciFunction[] functions;
    public final DeviceHandle[] devices;
    public final IommuDomain domain;
    public final IommuUnitModel unit;
    public final IotlbGather gather = new IotlbGather();
    public final long blockPa;

    public DomainFixture(Format format, boolean dirtyTracking, int deviceCount) {
        this.format = format;
        MachineConfig.Builder b = MachineConfig.builder(format.profile).ramSize(4L << 30)
                .iommu(new IommuUnitConfig(format.unit, format.model, 0,
                        dirtyTracking ? format.dirtyPreset : format.preset, Map.of()));
        for (int i = 0; i < deviceCount; i++) {
            b.device(PciFunctionSpec.endpoint(bdf(i), format.unit));
        }
        machine = SimulatedMachine.create(b.build());
        driver = format.provider().bind(this);
        functions = new PciFunction[deviceCount];
        devices = new DeviceHandle[deviceCount];
        for (int i = 0; i < deviceCount; i++) {
            functions[i] = machine.pci().function(PciAddress.parse(bdf(i)));
            devices[i] = driver.probeDevice(functions[i]);
        }
        domain = driver.allocPagingDomain(devices[0],
                dirtyTracking ? dev.iommufd.spi.DomainAllocFlags.DIRTY_TRACKING : 0, null);
        for (DeviceHandle d : devices) {
            domain.attachDevice(d);
        }
        unit = machine.iommuUnit(format.unit);
        blockPa = machine.memory().frames().allocate(Long.numberOfTrailingZeros(BLOCK / PAGE));
    }

    static String bdf(int i) {
        return String.format("00:%02x.0", 4 + i);
    }

    /** Requester ID of device {@code i} (the SMMUv3 StreamID: IORT identity mapping). */
    public int rid(int i) {
        return functions[i].rid();
    }

    /** Maps {@code [iova, iova + length)} with pages of {@code pgsize}, in calls of at most {@link #BLOCK} bytes. */
    public void mapSpan(long iova, long length, long pgsize) {
        for (long off = 0; off < length; off += BLOCK) {
            long chunk = Math.min(BLOCK, length - off);
            long done = domain.mapPages(iova + off, blockPa, pgsize, chunk / pgsize, RW);
            if (done != chunk) {
                throw new IllegalStateException("mapPages mapped " + done + " of " + chunk + " bytes at " + (iova + off));
            }
        }
    }

    /** Unmaps what {@link #mapSpan} mapped, syncing the gather (invalidation, then table pages freed). */
    public void unmapSpan(long iova, long length, long pgsize) {
        for (long off = 0; off < length; off += BLOCK) {
            long chunk = Math.min(BLOCK, length - off);
            long done = domain.unmapPages(iova + off, pgsize, chunk / pgsize, gather);
            if (done != chunk) {
                throw new IllegalStateException("unmapPages unmapped " + done + " of " + chunk + " bytes");
            }
        }
        sync();
    }

    /** One {@code map_pages} call of {@code count} pages of {@code pgsize} at {@code iova} (physically contiguous from the block). */
    public void mapSpanPages(long iova, long pgsize, long count) {
        long done = domain.mapPages(iova, blockPa, pgsize, count, RW);
        if (done != pgsize * count) {
            throw new IllegalStateException("mapPages mapped " + done + " of " + pgsize * count + " bytes at " + iova);
        }
    }

    /** One {@code unmap_pages} call and a sync. */
    public void unmapSpanPages(long iova, long pgsize, long count) {
        long done = domain.unmapPages(iova, pgsize, count, gather);
        if (done != pgsize * count) {
            throw new IllegalStateException("unmapPages unmapped " + done + " of " + pgsize * count + " bytes at " + iova);
        }
        sync();
    }

    /** {@code iotlb_sync} and an empty gather. */
    public void sync() {
        domain.iotlbSync(gather);
        gather.reset();
    }

    /** Table frames the machine's allocator has handed out (the domain's tables, queues and the block). */
    public long allocatedFrames() {
        return machine.memory().frames().allocatedFrames();
    }

    @Override
    public Machine machine() {
        return machine;
    }

    @Override
    public FaultSink faultSink() {
        return (device, fault) -> {
        };
    }

    @Override
    public ViommuEventSink viommuEventSink() {
        return (viommu, type, data) -> {
        };
    }

    @Override
    public void close() {
        try {
            for (DeviceHandle d : devices) {
                driver.blockedDomain().attachDevice(d);
            }
        } catch (ErrnoException e) {
            // a driver without a blocked domain: the machine goes away anyway
        }
        driver.close();
        machine.close();
    }
}
