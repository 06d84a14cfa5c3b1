package dev.iommufd.sim;

import com.google.auto.service.AutoService;
import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.BusErrorException;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.Translation;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * A tiny test-only IOMMU: {@code pa = iova + OFFSET} in 4 KiB pages, with a fault window and a page-request window.
 * Not a mock driver; just enough hardware to drive the platform's DMA path.
 *
 * <pre>
 *   0x00  OFFSET_REG   64-bit RW   added to every IOVA
 *   0x08  FAULTS_REG   64-bit RO   number of faulted translations
 *   IOVA in [FAULT_BASE, FAULT_BASE + 64 KiB)  → Translation.FAULT, reason FAULT_REASON
 *   IOVA in [PRI_BASE,   PRI_BASE + 64 KiB)    → Translation.PAGE_REQUEST, reason PRI_REASON
 * </pre>
 */
final class OffsetTranslationModel implements IommuUnitModel {

    static final String ID = "test-offset";
    static final long OFFSET_REG = 0x00;
    static final long FAULTS_REG = 0x08;
    static final long FAULT_BASE = 0x100_0000L;
    static final long PRI_BASE = 0x200_0000L;
    static final long WINDOW = 0x1_0000L;
    static final int FAULT_REASON = 0x5;
    static final int PRI_REASON = 0x6;

    /** The provider; registered for the tests only (this class lives in test sources). */
    @AutoService(HardwareModelProvider.class)
    public static final class Provider implements HardwareModelProvider {
        @Override
        public String id() {
            return ID;
        }

        @Override
        public List<String> presets() {
            return List.of("identity", "offset-1m");
        }

        @Override
        public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
            long offset;
            switch (config.preset()) {
                case "identity":
                    offset = 0;
                    break;
                case "offset-1m":
                    offset = 1L << 20;
                    break;
                default:
                    throw ErrnoException.of(Errno.EINVAL, "unknown preset %s", config.preset());
            }
            for (String name : config.overrides().keySet()) {
                if (!name.equals("OFFSET_REG")) {
                    throw ErrnoException.of(Errno.EINVAL, "unknown parameter %s", name);
                }
                offset = config.overrides().get(name);
            }
            return new OffsetTranslationModel(config.name(), config.mmioBase(), offset);
        }
    }

    private final String name;
    private final long base;
    private volatile long offset;
    private volatile long faults;

    OffsetTranslationModel(String name, long base, long offset) {
        this.name = name;
        this.base = base;
        this.offset = offset;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String model() {
        return ID;
    }

    @Override
    public long mmioBase() {
        return base;
    }

    @Override
    public long size() {
        return 0x1000;
    }

    @Override
    public long read(long off, int width) {
        if (width != 8) {
            throw new BusErrorException(base + off, "64-bit registers only");
        }
        if (off == OFFSET_REG) {
            return offset;
        }
        if (off == FAULTS_REG) {
            return faults;
        }
        throw new BusErrorException(base + off, "no register");
    }

    @Override
    public void write(long off, int width, long value) {
        if (width != 8 || off != OFFSET_REG) {
            if (off == FAULTS_REG && width == 8) {
                return; // read-only: ignored
            }
            throw new BusErrorException(base + off, "no writable " + width + "-byte register");
        }
        offset = value;
    }

    @Override
    public List<RegisterInfo> registers() {
        return List.of(new RegisterInfo(OFFSET_REG, "OFFSET_REG", 64), new RegisterInfo(FAULTS_REG, "FAULTS_REG", 64));
    }

    @Override
    public long peekRegister(RegisterInfo register) {
        return read(register.offset(), 8);
    }

    @Override
    public Translation translate(int rid, int pasid, long iova, int access, Translation out) {
        if (iova - FAULT_BASE >= 0 && iova - FAULT_BASE < WINDOW) {
            synchronized (this) {
                faults++;
            }
            return out.fault(FAULT_REASON);
        }
        if (iova - PRI_BASE >= 0 && iova - PRI_BASE < WINDOW) {
            return out.pageRequest(PRI_REASON);
        }
        return out.ok(iova + offset, 4096);
    }

    @Override
    public void visitStructureFrames(LongConsumer framePhysicalAddress) {
        // This unit walks no in-memory structures.
    }
}
