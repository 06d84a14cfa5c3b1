package dev.iommufd.core.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.api.Errno;
import dev.iommufd.api.uapi.IommuDestroy;
import dev.iommufd.api.uapi.IommuIoasAlloc;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.core.IommufdContext;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.MemFd;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import java.util.Map;
import java.util.Random;

/**
 * The port of tools/testing/selftests/iommu/iommufd_utils.h: a simulated machine, a root process with the
 * selftest's globals ({@code buffer}, {@code mfd_buffer}), an open iommufd with IOMMU_TEST_CMD, and the ioctl
 * helpers. Arguments are built as structs in the process's memory and passed to {@code ioctl()}, exactly as the C
 * tests do; helpers return the ioctl's result ({@code 0} or {@code -errno}) where the C macro would.
 *
 * <p>{@link #close()} is {@code teardown_iommufd}: close, reopen, MD_CHECK_REFS(buffer, refs 0), then the leak
 * invariants ({@link #assertNoLeaks}).
 */
public final class Selftest implements AutoCloseable {
    public static final long PAGE_SIZE = 4096;
    public static final long HUGEPAGE_SIZE = 2L << 20;
    public static final long BUFFER_SIZE = PAGE_SIZE * 16;
    public static final long MOCK_PAGE_SIZE = PAGE_SIZE / 2;
    public static final int MAP_RW = IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_READABLE;
    public static final int MAP_FIXED_RW = IommuIoasMap.FLAG_FIXED_IOVA | MAP_RW;
    /** The mock IOMMU unit of the machine. */
    public static final String MOCK_UNIT = "mock0";
    /** Its register window, in q35's PCI hole. */
    public static final long MOCK_MMIO_BASE = 0xfeb0_0000L;
    /** Where the ioctl argument structs are built. */
    private static final long ARG_SIZE = 64 * 1024;

    public final SimulatedMachine machine;
    public final UserProcess proc;
    public final IommufdSubsystem subsystem;
    public final SelftestIoctl testCmd = new SelftestIoctl();
    public final long buffer;
    public final MemFd mfd;
    public final long mfdBuffer;
    /** A user scratch area (BUFFER_SIZE) for ranges, temp buffers, bitmaps. */
    public final long scratch;
    private final long arg;
    private final long baselineFrames;
    public IommufdFd fd;
    private final Random random = new Random(42);

    public Selftest() {
        // One mock IOMMU unit (the selftest's mock driver binds to it); its registers sit in q35's PCI hole.
        machine = SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(256L << 20)
                .iommu(new IommuUnitConfig(MOCK_UNIT, "mock", MOCK_MMIO_BASE, "default", Map.of())).build());
        proc = machine.spawn("iommufd-selftest", 0);
        // The selftests run as root.
        proc.grant(ProcessCapability.CAP_IPC_LOCK);
        proc.grant(ProcessCapability.CAP_SYS_RESOURCE);
        proc.grant(ProcessCapability.CAP_SYS_ADMIN);
        subsystem = new IommufdSubsystem(machine);
        subsystem.registerIoctl(testCmd);
        arg = proc.mmap(0, ARG_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        // setup_sizes(): buffer is HUGEPAGE_SIZE aligned
        buffer = proc.mmap(0x7e00_0000_0000L, BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        mfd = proc.memfdCreate("buffer", BUFFER_SIZE, 0);
        mfdBuffer = proc.mmapFile(0, BUFFER_SIZE, Prot.READ_WRITE, mfd, 0);
        scratch = proc.mmap(0, 2 * BUFFER_SIZE, Prot.READ_WRITE, MapKind.ANONYMOUS);
        fillRandom(buffer, BUFFER_SIZE);
        fillRandom(mfdBuffer, BUFFER_SIZE);
        fillRandom(scratch, 2 * BUFFER_SIZE);
        fillRandom(arg, ARG_SIZE);
        baselineFrames = machine.memory().frames().allocatedFrames();
        fd = subsystem.open(proc);
    }

    public IommufdContext ctx() {
        return fd.context();
    }

    public void fillRandom(long va, long length) {
        byte[] b = new byte[(int) length];
        random.nextBytes(b);
        proc.write(va, b, 0, b.length);
    }

    public byte[] read(long va, int length) {
        byte[] b = new byte[length];
        proc.read(va, b, 0, length);
        return b;
    }

    // ---------------------------------------------------------------- raw ioctl

    /** A struct of {@code size} bytes with {@code size} in its first u32. */
    public static UserStruct cmd(int size) {
        return new UserStruct(size).put32(0, size);
    }

    /** Writes {@code s} to user memory, runs the ioctl, reads the struct back into {@code s}. */
    public int ioctl(long request, UserStruct s) {
        proc.write(arg, s.bytes(), 0, s.size());
        int rc = fd.ioctl(request, arg);
        proc.read(arg, s.bytes(), 0, s.size());
        return rc;
    }

    /** The ioctl with a raw user pointer. */
    public int ioctlAt(long request, long argAddress) {
        return fd.ioctl(request, argAddress);
    }

    public static int err(Errno e) {
        return -e.number();
    }

    // ---------------------------------------------------------------- iommufd_utils.h

    public int destroyRc(int id) {
        return ioctl(IommuDestroy.REQUEST, cmd(IommuDestroy.SIZE).put32(IommuDestroy.OFFSET_ID, id));
    }

    /** test_ioctl_destroy. */
    public void destroy(int id) {
        assertEquals(0, destroyRc(id), "IOMMU_DESTROY " + id);
    }

    /** test_ioctl_ioas_alloc. */
    public int ioasAlloc() {
        UserStruct c = cmd(IommuIoasAlloc.SIZE);
        assertEquals(0, ioctl(IommuIoasAlloc.REQUEST, c));
        int id = c.u32(IommuIoasAlloc.OFFSET_OUT_IOAS_ID);
        assertTrue(id != 0);
        return id;
    }

    /** _test_ioctl_ioas_map: returns rc, stores the IOVA in {@link #lastIova}. */
    public int mapRc(int ioas, long va, long length, long iova, int flags) {
        UserStruct c = cmd(IommuIoasMap.SIZE).put32(IommuIoasMap.OFFSET_FLAGS, flags).put32(IommuIoasMap.OFFSET_IOAS_ID, ioas)
                .put64(IommuIoasMap.OFFSET_USER_VA, va).put64(IommuIoasMap.OFFSET_LENGTH, length);
        if ((flags & IommuIoasMap.FLAG_FIXED_IOVA) != 0) {
            c.put64(IommuIoasMap.OFFSET_IOVA, iova);
        }
        int rc = ioctl(IommuIoasMap.REQUEST, c);
        lastIova = c.u64(IommuIoasMap.OFFSET_IOVA);
        return rc;
    }

    /** The IOVA written back by the last map / copy helper. */
    public long lastIova;

    /** test_ioctl_ioas_map_id (kernel-chosen IOVA). */
    public long map(int ioas, long va, long length) {
        assertEquals(0, mapRc(ioas, va, length, 0, MAP_RW), "IOAS_MAP");
        return lastIova;
    }

    /** test_ioctl_ioas_map_fixed_id. */
    public void mapFixed(int ioas, long va, long length, long iova) {
        assertEquals(0, mapRc(ioas, va, length, iova, MAP_FIXED_RW), "IOAS_MAP fixed");
    }

    public int mapFileRc(int ioas, int memfd, long start, long length, long iova, int flags) {
        UserStruct c = cmd(IommuIoasMapFile.SIZE).put32(IommuIoasMapFile.OFFSET_FLAGS, flags)
                .put32(IommuIoasMapFile.OFFSET_IOAS_ID, ioas).put32(IommuIoasMapFile.OFFSET_FD, memfd)
                .put64(IommuIoasMapFile.OFFSET_START, start).put64(IommuIoasMapFile.OFFSET_LENGTH, length);
        if ((flags & IommuIoasMap.FLAG_FIXED_IOVA) != 0) {
            c.put64(IommuIoasMapFile.OFFSET_IOVA, iova);
        }
        int rc = ioctl(IommuIoasMapFile.REQUEST, c);
        lastIova = c.u64(IommuIoasMapFile.OFFSET_IOVA);
        return rc;
    }

    /** _test_ioctl_ioas_unmap: returns rc; bytes unmapped in {@link #lastLength}. */
    public int unmapRc(int ioas, long iova, long length) {
        UserStruct c = cmd(IommuIoasUnmap.SIZE).put32(IommuIoasUnmap.OFFSET_IOAS_ID, ioas).put64(IommuIoasUnmap.OFFSET_IOVA, iova)
                .put64(IommuIoasUnmap.OFFSET_LENGTH, length);
        int rc = ioctl(IommuIoasUnmap.REQUEST, c);
        lastLength = c.u64(IommuIoasUnmap.OFFSET_LENGTH);
        return rc;
    }

    public long lastLength;

    public void unmap(int ioas, long iova, long length) {
        assertEquals(0, unmapRc(ioas, iova, length), "IOAS_UNMAP");
    }

    public int copyRc(int dst, int src, int flags, long length, long dstIova, long srcIova) {
        UserStruct c = cmd(IommuIoasCopy.SIZE).put32(IommuIoasCopy.OFFSET_FLAGS, flags).put32(IommuIoasCopy.OFFSET_DST_IOAS_ID, dst)
                .put32(IommuIoasCopy.OFFSET_SRC_IOAS_ID, src).put64(IommuIoasCopy.OFFSET_LENGTH, length)
                .put64(IommuIoasCopy.OFFSET_DST_IOVA, dstIova).put64(IommuIoasCopy.OFFSET_SRC_IOVA, srcIova);
        int rc = ioctl(IommuIoasCopy.REQUEST, c);
        lastIova = c.u64(IommuIoasCopy.OFFSET_DST_IOVA);
        return rc;
    }

    /** IOMMU_OPTION; the value written back in {@link #lastVal}. */
    public int optionRc(int optionId, int op, int objectId, long val) {
        UserStruct c = cmd(IommuOption.SIZE).put32(IommuOption.OFFSET_OPTION_ID, optionId).put16(IommuOption.OFFSET_OP, op)
                .put32(IommuOption.OFFSET_OBJECT_ID, objectId).put64(IommuOption.OFFSET_VAL64, val);
        int rc = ioctl(IommuOption.REQUEST, c);
        lastVal = c.u64(IommuOption.OFFSET_VAL64);
        return rc;
    }

    public long lastVal;

    // ---------------------------------------------------------------- IOMMU_TEST_CMD

    public static UserStruct testCmd(int op, int id) {
        return cmd(IommuTestCmd.SIZE).put32(IommuTestCmd.OFFSET_OP, op).put32(IommuTestCmd.OFFSET_ID, id);
    }

    public int addReservedRc(int ioas, long start, long length) {
        return ioctl(IommuTestCmd.REQUEST, testCmd(IommuTestCmd.OP_ADD_RESERVED, ioas)
                .put64(IommuTestCmd.OFFSET_ADD_RESERVED_START, start).put64(IommuTestCmd.OFFSET_ADD_RESERVED_LENGTH, length));
    }

    /** check_refs. */
    public int checkRefsRc(long uptr, long length, int refs) {
        return ioctl(IommuTestCmd.REQUEST, testCmd(IommuTestCmd.OP_MD_CHECK_REFS, 0)
                .put64(IommuTestCmd.OFFSET_CHECK_REFS_LENGTH, length).put64(IommuTestCmd.OFFSET_CHECK_REFS_UPTR, uptr)
                .put32(IommuTestCmd.OFFSET_CHECK_REFS_REFS, refs));
    }

    /** test_cmd_create_access: the access "descriptor". */
    public int createAccess(int ioas, int flags) {
        UserStruct c = testCmd(IommuTestCmd.OP_CREATE_ACCESS, ioas).put32(IommuTestCmd.OFFSET_CREATE_ACCESS_FLAGS, flags);
        assertEquals(0, ioctl(IommuTestCmd.REQUEST, c), "CREATE_ACCESS");
        return c.u32(IommuTestCmd.OFFSET_CREATE_ACCESS_OUT_ACCESS_FD);
    }

    /** test_cmd_destroy_access. */
    public void destroyAccess(int accessFd) {
        testCmd.closeAccess(ctx(), accessFd);
    }

    /** ACCESS_PAGES: rc; the item id in {@link #lastAccessPagesId}. */
    public int accessPagesRc(int accessFd, long iova, long length, long uptr, int flags) {
        UserStruct c = testCmd(IommuTestCmd.OP_ACCESS_PAGES, accessFd).put32(IommuTestCmd.OFFSET_ACCESS_PAGES_FLAGS, flags)
                .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_IOVA, iova).put64(IommuTestCmd.OFFSET_ACCESS_PAGES_LENGTH, length)
                .put64(IommuTestCmd.OFFSET_ACCESS_PAGES_UPTR, uptr);
        int rc = ioctl(IommuTestCmd.REQUEST, c);
        lastAccessPagesId = c.u32(IommuTestCmd.OFFSET_ACCESS_PAGES_OUT_ID);
        return rc;
    }

    public int lastAccessPagesId;

    public int destroyAccessPagesRc(int accessFd, int id) {
        return ioctl(IommuTestCmd.REQUEST, testCmd(IommuTestCmd.OP_DESTROY_ACCESS_PAGES, accessFd)
                .put32(IommuTestCmd.OFFSET_DESTROY_ACCESS_PAGES_ID, id));
    }

    public int accessRwRc(int accessFd, long iova, long length, long uptr, int flags) {
        return ioctl(IommuTestCmd.REQUEST, testCmd(IommuTestCmd.OP_ACCESS_RW, accessFd)
                .put64(IommuTestCmd.OFFSET_ACCESS_RW_IOVA, iova).put64(IommuTestCmd.OFFSET_ACCESS_RW_LENGTH, length)
                .put64(IommuTestCmd.OFFSET_ACCESS_RW_UPTR, uptr).put32(IommuTestCmd.OFFSET_ACCESS_RW_FLAGS, flags));
    }

    public void setTempMemoryLimit(int limit) {
        assertEquals(0, ioctl(IommuTestCmd.REQUEST, testCmd(IommuTestCmd.OP_SET_TEMP_MEMORY_LIMIT, 0)
                .put32(IommuTestCmd.OFFSET_MEMORY_LIMIT, limit)));
    }

    // ---------------------------------------------------------------- teardown and invariants

    /**
     * teardown_iommufd: close the fd, reopen, MD_CHECK_REFS(buffer, BUFFER_SIZE, 0), close; then the leak
     * invariants.
     */
    @Override
    public void close() {
        try {
            if (fd != null) {
                fd.close();
                fd = subsystem.open(proc);
                assertEquals(0, checkRefsRc(buffer, BUFFER_SIZE, 0), "a page of buffer is still pinned after close");
                assertEquals(0, checkRefsRc(mfdBuffer, BUFFER_SIZE, 0), "a page of mfd_buffer is still pinned after close");
                fd.close();
                fd = null;
            }
            assertNoLeaks();
        } finally {
            machine.close();
        }
    }

    /**
     * After every context is released: no frame pinned, every locked_vm / pinned_vm counter back to 0, and the
     * machine's allocated frames back to the baseline taken after setup touched its buffers.
     */
    public void assertNoLeaks() {
        assertEquals(0, machine.pinnedFrames(), "frames still pinned");
        for (UserProcess p : machine.processes()) {
            assertEquals(0, p.mm().pinnedVm(), "pinned_vm of " + p.name());
            assertEquals(0, p.mm().lockedVm(), "mm locked_vm of " + p.name());
            assertEquals(0, p.user().lockedVm(), "user locked_vm of uid " + p.user().uid());
        }
        assertEquals(baselineFrames, machine.memory().frames().allocatedFrames(), "frames allocated since setup");
    }
}
