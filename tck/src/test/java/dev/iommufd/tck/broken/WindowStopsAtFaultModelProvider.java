package dev.iommufd.tck.broken;

import dev.iommufd.mock.hw.MockIommuUnit;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.spi.hw.HardwareContext;
import dev.iommufd.spi.hw.HardwareModelProvider;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.RegisterInfo;
import dev.iommufd.spi.hw.Translation;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Defect (in hardware): the mock IOMMU unit whose {@link IommuUnitModel#translateWindow} gives up at the first
 * faulting request of a window and reports the requests after it as not translated, as a model that stalls its
 * hit-under-miss pipeline on a fault would. The unit calls itself {@code mock}, so the mock driver drives it.
 * Registered in this module's test resources (META-INF/services), as the broken drivers are.
 */
public final class WindowStopsAtFaultModelProvider implements HardwareModelProvider {
    public static final String ID = "mock-window-stops-at-fault";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public List<String> presets() {
        return List.of("default");
    }

    @Override
    public IommuUnitModel create(HardwareContext context, IommuUnitConfig config) {
        return new Unit(new MockIommuUnit(config.name(), config.mmioBase(), context));
    }

    private static final class Unit implements IommuUnitModel {
        private final MockIommuUnit unit;

        Unit(MockIommuUnit unit) {
            this.unit = unit;
        }

        @Override
        public int translateWindow(int rid, int pasid, int access, long[] iovas, int from, int count, long[] physOut,
                Translation scratch) {
            int done = 0;
            boolean stalled = false;
            for (int i = from; i < from + count; i++) {
                stalled = stalled || !unit.translate(rid, pasid, iovas[i], access, scratch).isOk();
                physOut[i] = stalled ? NOT_TRANSLATED : scratch.physicalAddress();
                done += stalled ? 0 : 1;
            }
            return done;
        }

        @Override
        public String name() {
            return unit.name();
        }

        @Override
        public String model() {
            return unit.model();
        }

        @Override
        public long mmioBase() {
            return unit.mmioBase();
        }

        @Override
        public List<RegisterInfo> registers() {
            return unit.registers();
        }

        @Override
        public long peekRegister(RegisterInfo register) {
            return unit.peekRegister(register);
        }

        @Override
        public Translation translate(int rid, int pasid, long iova, int access, Translation out) {
            return unit.translate(rid, pasid, iova, access, out);
        }

        @Override
        public void visitStructureFrames(LongConsumer framePhysicalAddress) {
            unit.visitStructureFrames(framePhysicalAddress);
        }

        @Override
        public long size() {
            return unit.size();
        }

        @Override
        public long read(long offset, int width) {
            return unit.read(offset, width);
        }

        @Override
        public void write(long offset, int width, long value) {
            unit.write(offset, width, value);
        }
    }
}
