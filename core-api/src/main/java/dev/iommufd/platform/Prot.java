package dev.iommufd.platform;

/** {@code mmap} protection bits (PROT_*), as Linux numbers them. */
public final class Prot {
    public static final int NONE = 0;
    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int EXEC = 4;
    public static final int READ_WRITE = READ | WRITE;

    private Prot() {
    }
}
