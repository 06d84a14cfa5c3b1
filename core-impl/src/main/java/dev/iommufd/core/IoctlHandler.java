package dev.iommufd.core;

/**
 * One entry of the iommufd ioctl table ({@code struct iommufd_ioctl_op}): a command number, the struct size the
 * kernel knows, the dispatcher's min_size, and the handler. Register extra entries (devices, HWPTs, IOMMU_TEST_CMD)
 * with {@link IommufdIoctl#register} or through {@link IommufdSubsystem}.
 */
public interface IoctlHandler {

    /** The command number, {@code 0x80..0xff}. */
    int nr();

    /** {@code sizeof} the struct as this kernel knows it. */
    int size();

    /** offsetofend of the last mandatory field: a smaller user size is EINVAL. */
    int minSize();

    /**
     * Runs the command. The struct has been copied in ({@link IoctlCall#cmd()}, zero-extended); the handler calls
     * {@link IoctlCall#respond()} to copy outputs back, and throws {@link dev.iommufd.api.ErrnoException} to fail.
     */
    void execute(IoctlCall call);

    /** A handler from a lambda. */
    static IoctlHandler of(int nr, int size, int minSize, java.util.function.Consumer<IoctlCall> body) {
        return new IoctlHandler() {
            @Override
            public int nr() {
                return nr;
            }

            @Override
            public int size() {
                return size;
            }

            @Override
            public int minSize() {
                return minSize;
            }

            @Override
            public void execute(IoctlCall call) {
                body.accept(call);
            }

            @Override
            public String toString() {
                return String.format("ioctl nr %#x", nr);
            }
        };
    }
}
