/**
 * iommufd itself: the kernel's drivers/iommu/iommufd (main.c, ioas.c, io_pagetable.c, pages.c; device.c,
 * hw_pagetable.c and the rest build on these).
 *
 * <h2>Shape</h2>
 * <pre>
 *  IommufdSubsystem (per Machine, /dev/iommu) ── open(process) ──► IommufdFd (typed api.Iommufd, one per process)
 *                                                                      │
 *                                                                      ▼
 *  IommufdIoctl (dispatch, table by nr) ◄── IommufdContext (struct iommufd_ctx: ObjectTable, account mode,
 *      IoasIoctls parse structs ─────────► shared implementation of every IOAS-level operation)
 *                                                                      │ objects
 *                                     Ioas ── IoPageTable (areas, allowed, reserved, domains, accesses)
 *                                                   │ IoAreaTable (areas as arrays; one-page pages in the slot)
 *                                                   │     └──► IoPages (pinned PFNs + accounting)
 *                                                   └─ IommuMapping (iommu_map / iommu_unmap) ──► spi.IommuDomain
 *                                     Access (in-kernel user: pin / rw / unmap notification)
 *
 *  devices and HWPTs (device.c, hw_pagetable.c):
 *  IommuCore (per subsystem: bound drivers, probed DeviceHandles, DMA ownership, fault/event sinks)
 *  IommufdDevice (bind/unbind, attach/replace/detach per PASID) ── Igroup (per IOMMU group: pasid → Attachment)
 *      DeviceAttach (hw_pagetable_attach/detach/replace, reserved regions, PASID compat, driver calls)
 *  HwPagetable ─┬─ HwptPaging (domain in an Ioas: auto or manual; Ioas.hwpts in creation order)
 *               └─ HwptNested (NESTED domain over a NEST_PARENT HwptPaging)
 *  DeviceIoctls (GET_HW_INFO) / HwptIoctls (HWPT_ALLOC, SET_DIRTY_TRACKING, GET_DIRTY_BITMAP, INVALIDATE)
 *      IovaBitmap (the user's dirty bitmap, OR-only), UserMemoryDataArray (invalidation entries from user memory)
 *
 *  event queues, vIOMMU, VFIO compat (eventq.c, viommu.c, vfio_compat.c):
 *  IopfRouter (per subsystem: IommuCore's FaultSink/ViommuEventSink; partial page requests, handler lookup)
 *  EventQueue ─┬─ FaultQueue (FAULT: IopfGroups to deliver, cookies awaiting a response) ◄── HwPagetable.fault
 *              └─ Veventq (vEVENTQ: events, floating LOST_EVENTS header, sequence) ◄── IommufdViommu.veventqs
 *  EventFile (the anon file: fd in the context's EventFiles, holds the object and the context)
 *  IommufdViommu (spi.Viommu over a NEST_PARENT HwptPaging) ── VDevice (virt_id; tombstoned at unbind)
 *                                                         └── HwQueue (pins guest memory: area num_locks)
 *  EventqIoctls / ViommuIoctls; VfioCompat (IOMMU_VFIO_IOAS + the VFIO type1 container ioctls)
 *  FaultInjection (fail-nth style injection points, per thread)
 * </pre>
 *
 * <h2>Building on it (devices, HWPTs, faults, vIOMMU, VFIO compat)</h2>
 * <ul>
 *   <li><b>Objects</b>: extend {@link dev.iommufd.core.IommufdObject} with an {@link dev.iommufd.core.ObjectKind};
 *       create with {@code ctx.objects().allocate(obj)} then {@code finalizeObject(obj)} (or {@code abort(obj)} on
 *       failure, which runs {@code abort()}); look up with {@code objects().get(id, kind, Class)} and give back with
 *       {@code put(obj)}; long-term dependencies take {@code addUser(dep)} and give it back in {@code destroy()}.
 *       IOMMU_DESTROY is {@code destroyUser(id)} (EBUSY unless only the table holds it); kernel-owned objects
 *       (devices bound by VFIO) are removed with {@code destroyByOwner(obj)}; {@code tombstone(obj)} keeps an ID
 *       until close (vDEVICE).
 *   <li><b>Domains in an IOAS</b> ({@link dev.iommufd.core.IoPageTable}): {@code addDomain(domain)} (aperture
 *       reservations owned by the domain, alignment, fills every area, all or nothing), {@code removeDomain(domain)}
 *       (never fails), {@code enforceDeviceReservedRegions(owner, regions)} → SW_MSI start or -1,
 *       {@code reserve(owner, start, last)}, {@code unreserveOwner(owner)}, {@code iovaAlignment()},
 *       {@code domains()}, {@code areaRanges()}, {@code cutIova(iovas)} (VFIO type1 v1). The IOAS of an ID:
 *       {@code ctx.getIoas(id)} (+ {@code objects().put}).
 *   <li><b>ioctls</b>: implement {@link dev.iommufd.core.IoctlHandler} (or {@code IoctlHandler.of(nr, size,
 *       minSize, body)}) with the layout class of {@code dev.iommufd.api.uapi}; register per context with
 *       {@code ctx.ioctls().register(h)}, for every context with {@link dev.iommufd.core.IommufdSubsystem#registerIoctl}
 *       (or add it to {@code IommufdContext}'s constructor next to {@code IoasIoctls.registerAll} for core
 *       commands). The handler reads {@code call.cmd()}, calls the shared typed implementation, writes outputs into
 *       the struct and calls {@code call.respond()}. ioctls outside the table (VFIO container compat) go to
 *       {@code ctx.ioctls().setCompatHandler(...)}.
 *   <li><b>Typed API</b>: add the method to {@code api.Iommufd} and to {@link dev.iommufd.core.IommufdFd}, both
 *       calling the same {@link dev.iommufd.core.IommufdContext} (or object) method as the ioctl handler.
 *   <li><b>Selftests</b>: IOMMU_TEST_CMD lives in the tests ({@code core.selftest.SelftestIoctl}); add ops with
 *       {@code registerOp(op, body)}; {@code Selftest} is the fixture (iommufd_utils.h helpers, teardown checks).
 * </ul>
 *
 * <h2>Locks</h2>
 * ObjectTable (its monitor, short) → IoPageTable.lock (iova + domains; the areas of IoAreaTable and the one-page
 * pages held in their slots) → IoPages.lock. The table lock is never held
 * while calling an access's unmap op. Access and context monitors guard only their own fields.
 * Devices and HWPTs: Ioas.mutex (ioas->mutex: HWPT_PAGING creation, automatic domain selection) → Igroup.lock
 * (igroup->lock: attachments, hardware attach) → IoPageTable.lock (reserved regions, domain fill). The context's
 * {@code groups} map and IommuCore's monitor are leaf locks; drivers are called under Igroup.lock (attach) or
 * IoPageTable.lock (map, dirty), never under the ObjectTable monitor. Automatic HWPTs are put (and maybe destroyed)
 * only after every lock is dropped.
 * Faults and events: Igroup.lock → IopfRouter partials monitor; Igroup.lock → EventQueue.lock (delivery, auto
 * response collection); IommufdViommu.veventqLock (read: producers, write: add/remove) → EventQueue.lock;
 * IommufdViommu's monitor guards its vDEVICE map (taken under Igroup.lock at VDEVICE_ALLOC). EventQueue.lock is a
 * leaf and no driver is called under it; page responses go to the driver under Igroup.lock at most.
 */
package dev.iommufd.core;
