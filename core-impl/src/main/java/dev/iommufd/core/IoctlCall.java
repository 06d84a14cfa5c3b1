package dev.iommufd.core;

import dev.iommufd.api.uapi.UserStruct;
import dev.iommufd.platform.UserProcess;

/**
 * One ioctl in flight ({@code struct iommufd_ucmd}): the context, the calling process, the user pointer and size,
 * and the kernel copy of the struct.
 */
public final class IoctlCall {
    private final IommufdContext ctx;
    private final UserProcess caller;
    private final long arg;
    private final int userSize;
    private final UserStruct cmd;

    IoctlCall(IommufdContext ctx, UserProcess caller, long arg, int userSize, UserStruct cmd) {
        this.ctx = ctx;
        this.caller = caller;
        this.arg = arg;
        this.userSize = userSize;
        this.cmd = cmd;
    }

    public IommufdContext ctx() {
        return ctx;
    }

    /** "current". */
    public UserProcess caller() {
        return caller;
    }

    /** The user pointer to the struct. */
    public long arg() {
        return arg;
    }

    /** The {@code size} field userspace passed. */
    public int userSize() {
        return userSize;
    }

    /** The kernel's copy of the struct ({@code sizeof} as the kernel knows it, zero-extended). */
    public UserStruct cmd() {
        return cmd;
    }

    /**
     * {@code iommufd_ucmd_respond}: copies {@code min(user size, kernel size)} bytes of the struct back.
     *
     * @throws dev.iommufd.api.ErrnoException EFAULT
     */
    public void respond() {
        caller.write(arg, cmd.bytes(), 0, Math.min(userSize, cmd.size()));
    }
}
