package dev.iommufd.vtd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaAttributes;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import dev.iommufd.vtd.layout.InvalidationDescriptor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The driver's invalidation queue (Linux qi_submit_sync) over many submissions of different lengths: the queue
 * wraps, a submission's descriptors are split across the end of the queue, and every submission still executes
 * whole (the remapped page translates to its new address only if the page-selective invalidation ran).
 */
class InvalidationQueueWrapTest {
    static final long IOVA = 0x30_0000;

    @ParameterizedTest
    @ValueSource(strings = {"qemu", "server"})
    void submissionsOfEveryLengthAcrossTheQueueEndExecuteWhole(String preset) {
        try (DriverBench b = new DriverBench(preset, PciFunctionSpec.endpoint("00:04.0", "dmar0"))) {
            VtdDevice dev = b.probe("00:04.0");
            PagingDomain d = (PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            DmarUnit unit = dev.unit;
            assertTrue(unit.queued, "the preset has queued invalidation");
            IommuUnitModel model = b.machine.iommuUnit("dmar0");
            long pa = b.mem.frames().allocate(9);
            IotlbGather g = new IotlbGather();
            Translation t = new Translation();
            int unusedDid = unit.domainCount - 1;
            // 3 * QI_LENGTH / 2 descriptors and more: every wrap position is crossed by some submission
            for (int round = 0; round < 3 * DmarUnit.QI_LENGTH; round++) {
                long target = pa + (round % 512) * 4096L;
                d.mapPages(IOVA, target, 4096, 1, IoProt.READ | IoProt.WRITE);
                model.translate(dev.rid, DmaAttributes.NO_PASID, IOVA, Translation.ACCESS_READ, t);
                assertEquals(target, t.physicalAddress(), "round " + round + ": the new mapping after the invalidation");
                assertEquals(4096, d.unmapPages(IOVA, 4096, 1, g));
                // one submission: fillers (another domain's IOTLB, nothing cached there), then the domain's own
                // invalidation (domain-selective, or PASID-selective for a first-stage domain), then the wait
                int fillers = round % 5;
                long[] batch = new long[4 * (fillers + 1)];
                for (int k = 0; k < fillers; k++) {
                    batch[4 * k] = InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, unusedDid);
                }
                CacheTag tag = d.tags[0];
                batch[4 * fillers] = d.firstStage
                        ? InvalidationDescriptor.pasidIotlbLo(InvalidationDescriptor.PIOTLB_G_PASID, tag.did, tag.pasid)
                        : InvalidationDescriptor.iotlbLo(InvalidationDescriptor.G_DOMAIN, tag.did);
                unit.qiSubmitSync(batch, fillers + 1);
                g.reset();
            }
        }
    }
}
