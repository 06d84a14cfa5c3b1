package dev.iommufd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.UserAccount;
import dev.iommufd.platform.UserProcess;
import org.junit.jupiter.api.Test;

/**
 * locked_vm / pinned_vm accounting as iommufd's pages.c uses it (reference §6.3): incr_user_locked_vm() for
 * IOPT_PAGES_ACCOUNT_USER, __account_locked_vm() for IOPT_PAGES_ACCOUNT_MM, pinned_vm in every mode.
 */
class AccountingTest {

    private static SimulatedMachine machine() {
        return SimulatedMachine.create(MachineConfig.builder(MachineProfile.Q35).ramSize(64L << 20).build());
    }

    @Test
    void userLockedVmIsSharedByEveryProcessOfTheUid() {
        try (SimulatedMachine m = machine()) {
            UserProcess a = m.spawn("a", 1000);
            UserProcess b = m.spawn("b", 1000);
            long limit = a.rlimitMemlock() >> 12; // 2048 pages
            a.user().chargeLockedVm(1500, limit);
            ErrnoException e = assertThrows(ErrnoException.class, () -> b.user().chargeLockedVm(600, limit));
            assertEquals(Errno.ENOMEM, e.errno());
            assertEquals(1500, m.user(1000).lockedVm(), "a refused charge changes nothing");
            b.user().chargeLockedVm(548, limit);
            assertEquals(2048, a.user().lockedVm(), "exactly at the limit is allowed (new > limit fails)");
            assertEquals(0, m.user(1001).lockedVm(), "another uid is separate");
            a.user().unchargeLockedVm(2048);
            assertEquals(0, b.user().lockedVm());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> a.user().unchargeLockedVm(1)).errno());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> a.user().chargeLockedVm(-1, limit)).errno());
        }
    }

    @Test
    void concurrentChargesNeverExceedTheLimit() throws Exception {
        try (SimulatedMachine m = machine()) {
            UserAccount u = m.user(7);
            long limit = 10000;
            int[] granted = new int[2];
            Thread[] ts = new Thread[2];
            for (int t = 0; t < 2; t++) {
                int me = t;
                ts[t] = new Thread(() -> {
                    for (int i = 0; i < 20000; i++) {
                        try {
                            u.chargeLockedVm(1, limit);
                            granted[me]++;
                        } catch (ErrnoException e) {
                            assertEquals(Errno.ENOMEM, e.errno());
                        }
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
            assertEquals(limit, granted[0] + granted[1]);
            assertEquals(limit, u.lockedVm());
        }
    }

    @Test
    void mmLockedVmIsPerProcessAndGoneAfterExit() {
        try (SimulatedMachine m = machine()) {
            UserProcess a = m.spawn("a", 1000);
            UserProcess b = m.spawn("b", 1000);
            a.mm().chargeLockedVm(100, 150);
            b.mm().chargeLockedVm(100, 150);
            assertEquals(Errno.ENOMEM, assertThrows(ErrnoException.class, () -> a.mm().chargeLockedVm(51, 150)).errno());
            assertEquals(100, a.mm().lockedVm());
            a.mm().chargeLockedVm(50, 150);
            a.mm().unchargeLockedVm(30);
            assertEquals(120, a.mm().lockedVm());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> a.mm().unchargeLockedVm(121)).errno());
            assertEquals(120, a.mm().lockedVm());
            a.mm().addPinnedVm(64);
            a.mm().addPinnedVm(-4);
            assertEquals(60, a.mm().pinnedVm());
            assertEquals(0, b.mm().pinnedVm());
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> a.mm().addPinnedVm(-61)).errno());
            a.exit();
            // iommufd: mmget_not_zero() fails once the mm is gone → EINVAL.
            assertEquals(Errno.EINVAL, assertThrows(ErrnoException.class, () -> a.mm().chargeLockedVm(1, 150)).errno());
            a.mm().addPinnedVm(-60); // pinned_vm lives in the mm_struct, still reachable through mmgrab()
            assertEquals(0, a.mm().pinnedVm());
        }
    }
}
