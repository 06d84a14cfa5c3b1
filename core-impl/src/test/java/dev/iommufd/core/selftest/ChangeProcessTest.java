package dev.iommufd.core.selftest;

import static dev.iommufd.core.selftest.Selftest.BUFFER_SIZE;
import static dev.iommufd.core.selftest.Selftest.PAGE_SIZE;
import static dev.iommufd.core.selftest.Selftest.cmd;
import static dev.iommufd.core.selftest.Selftest.err;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.Errno;
import dev.iommufd.api.Iommufd;
import dev.iommufd.api.uapi.IommuIoasChangeProcess;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.UserProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * FIXTURE change_process of iommufd.c (variants account_none / account_user / account_mm). The kernel fixture
 * attaches a mock domain so that the maps are pinned; until the mock domain is wired here, an access pins the
 * file-backed page instead (same pages, same accounting).
 */
class ChangeProcessTest {
    private final Selftest t = new Selftest();

    @AfterEach
    void teardown() {
        t.close();
    }

    private int changeProcessRc(Iommufd fd) {
        long arg = fd.process().mmap(0, PAGE_SIZE, dev.iommufd.platform.Prot.READ_WRITE, dev.iommufd.platform.MapKind.ANONYMOUS);
        var c = cmd(IommuIoasChangeProcess.SIZE);
        fd.process().write(arg, c.bytes(), 0, c.size());
        int rc = fd.ioctl(IommuIoasChangeProcess.REQUEST, arg);
        fd.process().munmap(arg, PAGE_SIZE);
        return rc;
    }

    @ParameterizedTest(name = "accounting {0}")
    @ValueSource(ints = {0, 1, 2}) // IOPT_PAGES_ACCOUNT_NONE / USER / MM
    void basic(int accounting) { // ports change_process.basic
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK); // drop_cap_ipc_lock()
        if (accounting != 0) {
            assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, accounting == 2 ? 1 : 0));
        }
        int ioas = t.ioasAlloc();
        int access = t.createAccess(ioas, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);

        // Only file-backed maps can move
        long iova = t.map(ioas, t.buffer, PAGE_SIZE);
        assertEquals(err(Errno.EINVAL), changeProcessRc(t.fd));
        t.unmap(ioas, iova, PAGE_SIZE);

        assertEquals(0, t.mapFileRc(ioas, t.mfd.fd(), 0, PAGE_SIZE, 0, Selftest.MAP_RW));
        iova = t.lastIova;
        assertEquals(0, t.accessPagesRc(access, iova, PAGE_SIZE, 0, 0));
        assertEquals(0, changeProcessRc(t.fd));

        UserProcess child = t.machine.spawn("child", 0);
        child.revoke(ProcessCapability.CAP_IPC_LOCK);
        Iommufd childFd = t.fd.inheritedBy(child);
        long nlock = 1; // one page
        assertEquals(nlock, t.proc.mm().pinnedVm());
        assertEquals(accounting == 2 ? nlock : 0, t.proc.mm().lockedVm());
        assertEquals(0, child.mm().pinnedVm());
        assertEquals(0, child.mm().lockedVm());
        assertEquals(0, changeProcessRc(childFd));
        assertEquals(0, t.proc.mm().pinnedVm());
        assertEquals(0, t.proc.mm().lockedVm());
        assertEquals(nlock, child.mm().pinnedVm());
        assertEquals(accounting == 2 ? nlock : 0, child.mm().lockedVm());

        // Unpinning now uncharges the new owner
        t.testCmd.closeAccess(t.ctx(), access);
        assertEquals(0, child.mm().pinnedVm());
        assertEquals(0, child.mm().lockedVm());
        childFd.close();
        child.exit();
    }

    @ParameterizedTest(name = "accounting {0}")
    @ValueSource(ints = {1, 2})
    void failureChangesNothing(int accounting) { // reference §4 IOAS_CHANGE_PROCESS: all or nothing (RLIMIT)
        t.proc.revoke(ProcessCapability.CAP_IPC_LOCK);
        assertEquals(0, t.optionRc(IommuOption.OPTION_RLIMIT_MODE, IommuOption.OP_SET, 0, accounting == 2 ? 1 : 0));
        int ioas = t.ioasAlloc();
        int access = t.createAccess(ioas, IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
        assertEquals(0, t.mapFileRc(ioas, t.mfd.fd(), 0, BUFFER_SIZE, 0, Selftest.MAP_RW));
        assertEquals(0, t.accessPagesRc(access, t.lastIova, BUFFER_SIZE, 0, 0));
        UserProcess child = t.machine.spawn("child", 1000); // another user, so USER mode must move the charge too
        child.setRlimitMemlock(PAGE_SIZE);
        Iommufd childFd = t.fd.inheritedBy(child);
        assertEquals(err(Errno.ENOMEM), changeProcessRc(childFd));
        assertEquals(BUFFER_SIZE / PAGE_SIZE, t.proc.mm().pinnedVm());
        assertEquals(0, child.mm().pinnedVm());
        assertEquals(0, child.user().lockedVm());
        assertEquals(0, child.mm().lockedVm());
        t.testCmd.closeAccess(t.ctx(), access);
        childFd.close();
        child.exit();
    }
}
