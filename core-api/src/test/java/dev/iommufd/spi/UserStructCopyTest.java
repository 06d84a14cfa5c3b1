package dev.iommufd.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Pins the two kernel copy rules of include/linux/iommu.h: {@code __iommu_copy_struct_from_user} (and its per-entry
 * array form) refuse input longer than the kernel's struct with EINVAL; {@code iommu_copy_struct_from_full_user_array}
 * uses {@code copy_struct_from_user}, which accepts a longer entry with a zero tail and is E2BIG otherwise.
 */
class UserStructCopyTest {
    private static final int TYPE = 7;

    private static Errno errno(Runnable r) {
        return assertThrows(ErrnoException.class, r::run).errno();
    }

    @Test
    void userDataLongerThanTheKernelStructIsEinvalEvenWithAZeroTail() {
        UserData data = new UserData(TYPE, new byte[12]);
        assertEquals(Errno.EINVAL, errno(() -> data.copyStruct(TYPE, 8, 4)));
    }

    @Test
    void userDataShorterThanMinimumIsEinvalAndTypeMismatchIsEinval() {
        assertEquals(Errno.EINVAL, errno(() -> new UserData(TYPE, new byte[3]).copyStruct(TYPE, 8, 4)));
        assertEquals(Errno.EINVAL, errno(() -> new UserData(TYPE + 1, new byte[8]).copyStruct(TYPE, 8, 4)));
    }

    @Test
    void userDataBetweenMinimumAndSizeIsZeroExtended() {
        ByteBuffer b = new UserData(TYPE, new byte[] {1, 2, 3, 4, 5}).copyStruct(TYPE, 8, 4);
        byte[] out = new byte[8];
        b.get(out);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 0, 0, 0}, out);
    }

    @Test
    void arrayEntryFollowsTheStrictRuleInTheKernelOrder() {
        UserDataArray a = UserDataArray.of(TYPE, 12, 2, new byte[24]);
        assertEquals(Errno.EINVAL, errno(() -> a.copyEntry(0, TYPE, 8, 4)), "entry_len 12 > sizeof 8");
        assertEquals(Errno.EINVAL, errno(() -> a.copyEntry(2, TYPE, 12, 4)), "index beyond entry_num");
        assertEquals(12, a.copyEntry(1, TYPE, 12, 4).remaining());
    }

    @Test
    void fullArrayEntryAcceptsAZeroTailAndRefusesANonZeroOne() {
        byte[] raw = new byte[26];
        raw[0] = 0x11;
        raw[13] = 0x22; // entry 1 starts at 13
        raw[25] = 0x33; // last byte of entry 1: beyond the 12 the kernel knows
        UserDataArray a = UserDataArray.of(TYPE, 13, 2, raw);
        assertEquals(0x11, a.copyFullArrayEntry(0, TYPE, 12).get(0));
        assertEquals(Errno.E2BIG, errno(() -> a.copyFullArrayEntry(1, TYPE, 12)));
        assertEquals(Errno.EINVAL, errno(() -> UserDataArray.of(TYPE, 12, 0, new byte[0]).copyFullArrayEntry(0, TYPE, 12)),
                "entry_num 0");
        assertEquals(Errno.EINVAL, errno(() -> a.copyFullArrayEntry(0, TYPE + 1, 12)), "type mismatch");
    }
}
