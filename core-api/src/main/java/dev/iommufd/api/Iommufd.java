package dev.iommufd.api;

import dev.iommufd.platform.Machine;
import dev.iommufd.platform.UserProcess;
import java.util.List;
import java.util.ServiceLoader;

/**
 * An open {@code /dev/iommu} file descriptor in one process: the typed face of iommufd. Every method mirrors one
 * ioctl (or kernel API) with typed arguments; the ioctl face ({@link #ioctl}) parses the same structs userspace
 * passes and calls the same implementation.
 *
 * <h2>Errors</h2>
 * Every method fails with {@link ErrnoException} carrying the kernel's errno (same validation order) and a
 * message naming the offending argument. A failed call leaves state unchanged except where the kernel documents
 * partial progress (then {@link ErrnoException#progress()} reports it).
 *
 * <h2>Processes</h2>
 * "Current" in the kernel's sense (who pins, who is charged, whose capabilities count) is {@link #process()}.
 * {@link #inheritedBy} gives the same open file as seen from another process (an fd inherited over fork or passed
 * with SCM_RIGHTS); the file is released when its last descriptor is closed.
 *
 * <p>Thread-safe.
 */
public interface Iommufd extends AutoCloseable {

    /** Opens {@code /dev/iommu} on {@code machine} as {@code process} with the implementation on the class path. */
    static Iommufd open(Machine machine, UserProcess process) {
        IommufdProvider provider = ServiceLoader.load(IommufdProvider.class).findFirst()
                .orElseThrow(() -> new ErrnoException(Errno.ENODEV, "no iommufd implementation on the class path"));
        return provider.open(machine, process);
    }

    /** The process this descriptor belongs to ("current" for every call). */
    UserProcess process();

    /** The same open file, as a descriptor of {@code process} (fork / SCM_RIGHTS). */
    Iommufd inheritedBy(UserProcess process);

    /**
     * The ioctl face: {@code ioctl(fd, request, argAddress)} with the argument struct in {@link #process()}'s
     * memory.
     *
     * @return 0 on success, {@code -errno} on failure
     */
    int ioctl(long request, long argAddress);

    /**
     * IOMMU_DESTROY.
     *
     * @throws ErrnoException ENOENT for an unknown ID (or one still being created); EBUSY while another object,
     *         an attachment or an in-flight call holds a reference
     */
    void destroy(int id);

    /** IOMMU_IOAS_ALLOC with {@code flags = 0}: a new, empty IOAS. @return its ID */
    int ioasAlloc();

    /**
     * IOMMU_IOAS_MAP.
     *
     * @param flags {@code IommuIoasMap.FLAG_*}: FIXED_IOVA, WRITEABLE, READABLE
     * @param iova the IOVA when FIXED_IOVA is set; ignored otherwise
     * @return the IOVA of the mapping
     */
    long ioasMap(int ioasId, int flags, long userVa, long length, long iova);

    /** IOMMU_IOAS_MAP_FILE: maps {@code length} bytes of memfd {@code fd} (of {@link #process()}) from {@code start}. */
    long ioasMapFile(int ioasId, int flags, int fd, long start, long length, long iova);

    /**
     * IOMMU_IOAS_COPY: maps the pages behind {@code [srcIova, srcIova + length)} of {@code srcIoasId} into
     * {@code dstIoasId} without pinning them again.
     *
     * @return the destination IOVA
     */
    long ioasCopy(int dstIoasId, int srcIoasId, int flags, long length, long dstIova, long srcIova);

    /**
     * IOMMU_IOAS_UNMAP: unmaps every area inside {@code [iova, iova + length)}; {@code (0, -1L)} unmaps all.
     *
     * @return bytes unmapped
     * @throws ErrnoException ENOENT when an area straddles the range or (ranged) nothing was unmapped; areas
     *         removed before the failure stay removed and {@link ErrnoException#progress()} counts their bytes
     */
    long ioasUnmap(int ioasId, long iova, long length);

    /** IOMMU_IOAS_IOVA_RANGES (all ranges; the ioctl face adds the EMSGSIZE capacity protocol). */
    IovaRanges ioasIovaRanges(int ioasId);

    /** IOMMU_IOAS_ALLOW_IOVAS: replaces the allow list (empty list = no allow list). */
    void ioasAllowIovas(int ioasId, List<IovaRange> ranges);

    /**
     * IOMMU_OPTION with OP_GET.
     *
     * @param optionId {@code IommuOption.OPTION_RLIMIT_MODE} (objectId 0) or {@code OPTION_HUGE_PAGES} (an IOAS)
     */
    long optionGet(int optionId, int objectId);

    /** IOMMU_OPTION with OP_SET. */
    void optionSet(int optionId, int objectId, long value);

    /** IOMMU_IOAS_CHANGE_PROCESS: moves the accounting of every (file-backed) map to {@link #process()}. */
    void ioasChangeProcess();

    /**
     * {@code iommufd_access_create}: an in-kernel user of IOAS memory (not an ioctl; the kernel's selftests reach
     * it through IOMMU_TEST_CMD).
     */
    IommufdAccess accessCreate(AccessOps ops);

    // ---------------------------------------------------------------- devices and HWPTs (device.c, hw_pagetable.c)
    // Added by the device/HWPT work; defaults fail with EOPNOTSUPP for implementations without devices.

    /**
     * VFIO_DEVICE_BIND_IOMMUFD ({@code iommufd_device_bind}): claims DMA ownership of {@code function} for this
     * file. The binding keeps the file open until {@link #unbindDevice}.
     *
     * @return the DEVICE object ID
     * @throws ErrnoException ENODEV when no driver drives the function's IOMMU unit; EBUSY when the function is
     *         bound already or its IOMMU group belongs to another iommufd
     */
    default int bindDevice(dev.iommufd.platform.PciFunction function) {
        throw ErrnoException.notSupported("device binding");
    }

    /**
     * VFIO cdev close ({@code iommufd_device_unbind}).
     *
     * @throws ErrnoException ENOENT; EBUSY while the device is attached
     */
    default void unbindDevice(int devId) {
        throw ErrnoException.notSupported("device binding");
    }

    /**
     * VFIO_DEVICE_ATTACH_IOMMUFD_PT on a detached (device, PASID) ({@code iommufd_device_attach}).
     *
     * @param pasid 0 (IOMMU_NO_PASID) for the RID
     * @param ptId an IOAS (an automatic HWPT is chosen or created) or a HWPT
     * @return the HWPT attached
     */
    default int deviceAttach(int devId, int pasid, int ptId) {
        throw ErrnoException.notSupported("device attach");
    }

    /** VFIO_DEVICE_ATTACH_IOMMUFD_PT on an attached (device, PASID): atomic replace. @return the HWPT attached */
    default int deviceReplace(int devId, int pasid, int ptId) {
        throw ErrnoException.notSupported("device replace");
    }

    /** VFIO_DEVICE_DETACH_IOMMUFD_PT: a no-op when nothing is attached at that PASID. */
    default void deviceDetach(int devId, int pasid) {
        throw ErrnoException.notSupported("device detach");
    }

    /**
     * IOMMU_HWPT_ALLOC.
     *
     * @param flags {@code IommuHwptAlloc.FLAG_*}
     * @param ptId an IOAS (paging HWPT) or a NEST_PARENT HWPT (nested HWPT)
     * @param dataType {@code IommuHwptAlloc.DATA_*} or a driver type; {@code data} empty for DATA_NONE
     * @param faultId the FAULT object, used with FLAG_FAULT_ID_VALID
     * @return the HWPT ID
     */
    default int hwptAlloc(int devId, int ptId, int flags, int dataType, byte[] data, int faultId) {
        throw ErrnoException.notSupported("HWPT allocation");
    }

    /**
     * IOMMU_GET_HW_INFO without the buffer protocol: the whole vendor structure.
     *
     * @param flags {@code IommuHwInfo.FLAG_INPUT_TYPE} or 0
     * @param dataType the requested type when FLAG_INPUT_TYPE is set
     */
    default dev.iommufd.spi.HwInfo getHwInfo(int devId, int flags, int dataType) {
        throw ErrnoException.notSupported("GET_HW_INFO");
    }

    /** IOMMU_HWPT_SET_DIRTY_TRACKING. */
    default void hwptSetDirtyTracking(int hwptId, boolean enable) {
        throw ErrnoException.notSupported("dirty tracking");
    }

    /**
     * IOMMU_HWPT_GET_DIRTY_BITMAP: sets (never clears) bit {@code k} of the bitmap at user address {@code data} for
     * each dirty {@code [iova + k * pageSize, +pageSize)}; clears the IOPTE dirty bits unless NO_CLEAR.
     */
    default void hwptGetDirtyBitmap(int hwptId, int flags, long iova, long length, long pageSize, long data) {
        throw ErrnoException.notSupported("dirty tracking");
    }

    /**
     * IOMMU_HWPT_INVALIDATE with {@code entryNum} entries of {@code entryLen} bytes at user address {@code dataUptr}.
     *
     * @return the entries handled (all of them)
     * @throws ErrnoException on the first failing entry, with {@link ErrnoException#progress()} = entries handled
     */
    default int hwptInvalidate(int hwptId, int dataType, long dataUptr, int entryLen, int entryNum) {
        throw ErrnoException.notSupported("HWPT invalidation");
    }

    // ---------------------------------------------------------------- event queues, vIOMMU (eventq.c, viommu.c)

    /**
     * IOMMU_FAULT_QUEUE_ALLOC (flags 0): a FAULT object and its file, to which HWPTs allocated with
     * IOMMU_HWPT_FAULT_ID_VALID deliver I/O page faults.
     */
    default ObjectAndFd faultQueueAlloc() {
        throw ErrnoException.notSupported("fault queues");
    }

    /** The event queue file with descriptor number {@code fd} of this iommufd. @throws ErrnoException EBADF */
    default EventQueueFile eventQueueFile(int fd) {
        throw ErrnoException.notSupported("event queue files");
    }

    /**
     * IOMMU_VIOMMU_ALLOC: a vIOMMU of vendor {@code type} over the NEST_PARENT HWPT {@code hwptId} on the IOMMU
     * instance of device {@code devId}.
     *
     * @param data the vendor data ({@code data_uptr}/{@code data_len}), or null; the driver's output is written
     *        back into it when the driver produces any
     */
    default int viommuAlloc(int devId, int hwptId, int type, byte[] data) {
        throw ErrnoException.notSupported("vIOMMU");
    }

    /** IOMMU_VDEVICE_ALLOC: device {@code devId}'s virtual ID {@code virtId} on vIOMMU {@code viommuId}. */
    default int vdeviceAlloc(int viommuId, int devId, long virtId) {
        throw ErrnoException.notSupported("vDEVICE");
    }

    /** IOMMU_VEVENTQ_ALLOC (flags 0): a vEVENTQ of {@code type} with room for {@code depth} events. */
    default ObjectAndFd veventqAlloc(int viommuId, int type, int depth) {
        throw ErrnoException.notSupported("vEVENTQ");
    }

    /**
     * IOMMU_HW_QUEUE_ALLOC (flags 0): a hardware queue of the vIOMMU whose memory is {@code length} bytes at
     * {@code nestingParentIova} of the parent HWPT's IOAS (pinned while the queue exists).
     */
    default int hwQueueAlloc(int viommuId, int type, int index, long nestingParentIova, long length) {
        throw ErrnoException.notSupported("HW queues");
    }

    /**
     * {@code mmap(NULL, length, prot, MAP_SHARED, iommufd, offset)} of a region a vIOMMU registered
     * ({@code iommufd_viommu_alloc_mmap}, reported through the driver's output data).
     *
     * <p>{@code prot} is {@link dev.iommufd.platform.Prot} bits. Errors, in the kernel's order: EINVAL for length 0,
     * an offset or a length that is not page aligned; EPERM for PROT_EXEC; ENXIO unless {@code offset} and
     * {@code length} are exactly a registered region's. The mapping (VM_IO | VM_PFNMAP: not pinnable, so IOAS_MAP of
     * it fails with EFAULT) holds a users reference on the vIOMMU (IOMMU_DESTROY → EBUSY) and the file, until the
     * last part of it is unmapped.
     *
     * @return the user address of the mapping
     * @throws ErrnoException as above; EOPNOTSUPP when the implementation has no mmap
     */
    default long mmap(long length, int prot, long offset) {
        throw ErrnoException.of(Errno.EOPNOTSUPP, "%s does not support mmap of iommufd regions", getClass().getName());
    }

    // ---------------------------------------------------------------- VFIO type1 container compatibility

    /**
     * IOMMU_VFIO_IOAS: {@code op} 0 GET (returns the compat IOAS ID), 1 SET {@code ioasId}, 2 CLEAR.
     *
     * @return the compat IOAS ID for GET, else 0
     */
    default int vfioIoas(int op, int ioasId) {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** VFIO_CHECK_EXTENSION: 1 when supported, else 0. */
    default int vfioCheckExtension(long extension) {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** VFIO_SET_IOMMU: {@code VFIO_TYPE1_IOMMU} (1) or {@code VFIO_TYPE1v2_IOMMU} (3). */
    default void vfioSetIommu(long type) {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** VFIO_IOMMU_GET_INFO. */
    default VfioIommuInfo vfioIommuGetInfo() {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** VFIO_IOMMU_MAP_DMA: always at {@code iova}; {@code flags} READ (1) | WRITE (2). */
    default void vfioMapDma(int flags, long vaddr, long iova, long size) {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** VFIO_IOMMU_UNMAP_DMA; {@code flags} 0 or UNMAP_ALL (2). @return bytes unmapped */
    default long vfioUnmapDma(int flags, long iova, long size) {
        throw ErrnoException.notSupported("VFIO compatibility");
    }

    /** Closes this descriptor; the last close releases the file, destroying every object leaf first. */
    @Override
    void close();
}
