package dev.iommufd.core;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.api.uapi.IommufdCommands;
import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.platform.UserProcess;

/**
 * The ioctl dispatcher of one context ({@code iommufd_fops_ioctl}) and its command table.
 *
 * <h2>Order (kernel's)</h2>
 * <ol>
 *   <li>nr below 0x80 or beyond the table: the VFIO compatibility ioctls ({@link #setCompatHandler}), else ENOTTY.
 *   <li>read the struct's {@code u32 size} → EFAULT.
 *   <li>no entry for nr, or the request is not exactly {@code _IO(';', nr)} → ENOTTY.
 *   <li>size below min_size → EINVAL.
 *   <li>{@code copy_struct_from_user}: bytes beyond the kernel's size must be zero → E2BIG; EFAULT.
 *   <li>the handler; it copies outputs back itself.
 * </ol>
 * The table is copy-on-write (registration is rare, dispatch reads one volatile array).
 */
public final class IommufdIoctl {
    /** Scratch chunk for checking a large user tail for zeros. */
    private static final int TAIL_CHUNK = 4096;

    /** Handles ioctls outside the iommufd table (VFIO container compatibility). */
    public interface CompatHandler {
        /** @return 0 or {@code -errno} */
        int ioctl(IommufdContext ctx, UserProcess caller, long request, long arg);
    }

    private volatile IoctlHandler[] table = new IoctlHandler[0];
    private volatile CompatHandler compat = (ctx, caller, request, arg) -> -Errno.ENOTTY.number();

    /**
     * Adds a command.
     *
     * @throws IllegalStateException when nr is outside 0x80..0xff or already taken
     */
    public synchronized void register(IoctlHandler handler) {
        int nr = handler.nr();
        if (nr < IommufdCommands.CMD_BASE || nr > 0xff) {
            throw new IllegalStateException(String.format("ioctl nr %#x outside 0x80..0xff", nr));
        }
        int idx = nr - IommufdCommands.CMD_BASE;
        IoctlHandler[] t = table;
        if (idx < t.length && t[idx] != null) {
            throw new IllegalStateException(String.format("ioctl nr %#x is already registered (%s)", nr, t[idx]));
        }
        IoctlHandler[] n = java.util.Arrays.copyOf(t, Math.max(t.length, idx + 1));
        n[idx] = handler;
        table = n;
    }

    /** Whether nr has a handler. */
    public boolean isRegistered(int nr) {
        IoctlHandler[] t = table;
        int idx = nr - IommufdCommands.CMD_BASE;
        return idx >= 0 && idx < t.length && t[idx] != null;
    }

    /** Sets the handler of ioctls outside the table (VFIO compat). */
    public void setCompatHandler(CompatHandler handler) {
        this.compat = handler;
    }

    /** Dispatches one ioctl. @return 0 or {@code -errno} */
    public int dispatch(IommufdContext ctx, UserProcess caller, long request, long arg) {
        int nr = IommufdCommands.nr(request);
        IoctlHandler[] t = table;
        int idx = nr - IommufdCommands.CMD_BASE;
        if (idx < 0 || idx >= t.length) {
            return compat.ioctl(ctx, caller, request, arg);
        }
        try {
            int userSize = readU32(caller, arg);
            IoctlHandler h = t[idx];
            if (h == null || request != IommufdCommands.request(nr)) {
                return -Errno.ENOTTY.number();
            }
            long usize = userSize & 0xffff_ffffL;
            if (usize < h.minSize()) {
                return -Errno.EINVAL.number();
            }
            UserStruct cmd = new UserStruct(h.size());
            if (usize > h.size()) {
                checkZeroTail(caller, arg + h.size(), usize - h.size());
            }
            caller.read(arg, cmd.bytes(), 0, (int) Math.min(usize, h.size()));
            h.execute(new IoctlCall(ctx, caller, arg, (int) Math.min(usize, Integer.MAX_VALUE), cmd));
            return 0;
        } catch (ErrnoException e) {
            return -e.errno().number();
        }
    }

    private static int readU32(UserProcess caller, long arg) {
        byte[] b = new byte[4];
        caller.read(arg, b, 0, 4);
        return new UserStruct(b).u32(0);
    }

    /** {@code check_zeroed_user}: E2BIG when a byte of the tail is not zero; EFAULT when unreadable. */
    private static void checkZeroTail(UserProcess caller, long addr, long length) {
        byte[] buf = new byte[(int) Math.min(TAIL_CHUNK, length)];
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(buf.length, length - done);
            caller.read(addr + done, buf, 0, n);
            for (int i = 0; i < n; i++) {
                if (buf[i] != 0) {
                    throw ErrnoException.of(Errno.E2BIG, "non-zero byte at offset %d beyond the known struct", done + i);
                }
            }
            done += n;
        }
    }
}
