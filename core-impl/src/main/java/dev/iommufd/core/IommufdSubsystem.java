package dev.iommufd.core;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * iommufd on one machine (the misc device {@code /dev/iommu}): opens contexts and hands each the ioctl handlers
 * registered beyond the core ones (devices and HWPTs, IOMMU_TEST_CMD in tests).
 *
 * <p>Thread-safe.
 */
public final class IommufdSubsystem {
    private final Machine machine;
    private final List<IoctlHandler> extraHandlers = new CopyOnWriteArrayList<>();
    private final IommuCore iommu;
    /** Fault and vIOMMU event routing to FAULT objects and vEVENTQs (core3). */
    final IopfRouter events;

    public IommufdSubsystem(Machine machine) {
        this(machine, List.of());
    }

    public IommufdSubsystem(Machine machine, List<IoctlHandler> extraHandlers) {
        this.machine = machine;
        this.iommu = new IommuCore(machine);
        this.events = new IopfRouter(iommu);
        iommu.setFaultHandler(events);
        iommu.setEventHandler(events);
        this.extraHandlers.addAll(extraHandlers);
    }

    public Machine machine() {
        return machine;
    }

    /** The machine's IOMMU core: bound drivers, probed devices, DMA ownership. */
    public IommuCore iommu() {
        return iommu;
    }

    /** Adds a handler to every context opened from now on. */
    public void registerIoctl(IoctlHandler handler) {
        extraHandlers.add(handler);
    }

    /** {@code open("/dev/iommu")} as {@code process}: per-user accounting. */
    public IommufdFd open(UserProcess process) {
        return open(process, AccountMode.USER);
    }

    /** {@code open("/dev/vfio/vfio")} through the VFIO container compatibility node: per-mm accounting. */
    public IommufdFd openVfioContainer(UserProcess process) {
        return open(process, AccountMode.MM);
    }

    private IommufdFd open(UserProcess process, AccountMode mode) {
        IommufdContext ctx = new IommufdContext(this, machine, mode);
        for (IoctlHandler h : extraHandlers) {
            ctx.ioctls().register(h);
        }
        return new IommufdFd(ctx, process);
    }
}
