package dev.iommufd.smmuv3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iommufd.platform.DmaStatus;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.smmuv3.layout.BitField;
import dev.iommufd.smmuv3.layout.Command;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IoProt;
import dev.iommufd.spi.IotlbGather;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.spi.hw.Translation;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The command sequences the driver emits for an attach (each STE/CD step followed by its CFGI and a CMD_SYNC,
 * read back from the command queue in memory), and the allocation-free hot paths.
 */
class Smmuv3SequenceAndAllocationTest {
    static final String BDF = "00:08.0";

    /** Opcodes and SIDs of the commands issued since {@code from}, read from the ring in memory. */
    static List<String> commandsSince(DriverBench b, long from) {
        CommandQueue q = b.smmu().cmdq;
        List<String> out = new ArrayList<>();
        for (long i = from; i < q.commandsIssued(); i++) {
            long slot = q.base() + (i % (1 << b.smmu().features.cmdqShift)) * Command.SIZE;
            long c0 = b.machine.memory().read64(slot);
            int op = Command.opcode(c0);
            switch (op) {
                case Command.OP_CFGI_STE:
                    out.add("CFGI_STE " + BitField.extract(Command.SID, c0));
                    break;
                case Command.OP_CFGI_CD:
                    out.add("CFGI_CD " + BitField.extract(Command.SID, c0) + "/" + BitField.extract(Command.SSID, c0));
                    break;
                case Command.OP_CMD_SYNC:
                    out.add("SYNC");
                    break;
                case 0:
                    // a completed CMD_SYNC: with MSI polling the SMMU wrote MSIData (0) over the slot's first word
                    out.add(BitField.extract(Command.SYNC_MSIADDR, b.machine.memory().read64(slot + 8)) << 2 == slot
                            ? "SYNC" : "OP 0x0");
                    break;
                default:
                    out.add(String.format("OP %#x", op));
            }
        }
        return out;
    }

    @Test
    void identityToStage1AttachIsCdThenHitlessSte() {
        // qemu preset: no ATTR_TYPES_OVR, so the bypass STE has no SHCFG and bypass -> CD table takes 2 syncs
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            b.driver.identityDomain().attachDevice(dev);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            long from = b.smmu().cmdq.commandsIssued();
            d.attachDevice(dev);
            int sid = fn.rid();
            // CD 0 from zero: breaking (dwords 1..7, then dword 0); STE bypass -> CD table: ignored dword 1 first,
            // then the critical dword 0
            assertEquals(List.of("CFGI_CD " + sid + "/0", "SYNC", "CFGI_CD " + sid + "/0", "SYNC",
                    "CFGI_STE " + sid, "SYNC", "CFGI_STE " + sid, "SYNC"), commandsSince(b, from));
            // back to identity: STE first (hitless, 2 steps), then CD 0 cleared (breaking, 2 steps)
            from = b.smmu().cmdq.commandsIssued();
            b.driver.identityDomain().attachDevice(dev);
            assertEquals(List.of("CFGI_STE " + sid, "SYNC", "CFGI_STE " + sid, "SYNC",
                    "CFGI_CD " + sid + "/0", "SYNC", "CFGI_CD " + sid + "/0", "SYNC"), commandsSince(b, from));
        }
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /**
     * Every thread gets its own command batch ({@code struct arm_smmu_cmdq_batch} lives on each CPU's stack), and
     * always the same one, also when more threads than {@link CommandQueue#batch}'s two remembered pairs take turns:
     * a batch shared by two threads would mix their commands.
     */
    @Test
    void eachThreadHasItsOwnBatchAcrossTurnsOfThreeThreads() throws Exception {
        // the same three threads every round: three one-thread executors
        java.util.concurrent.ExecutorService[] pools = new java.util.concurrent.ExecutorService[3];
        for (int t = 0; t < 3; t++) {
            pools[t] = java.util.concurrent.Executors.newSingleThreadExecutor();
        }
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            CommandQueue q = b.smmu().cmdq;
            CommandQueue.Batch[][] seen = new CommandQueue.Batch[3][4];
            for (int round = 0; round < 4; round++) {
                for (int t = 0; t < 3; t++) {
                    int thread = t;
                    int r = round;
                    pools[t].submit(() -> seen[thread][r] = q.batch()).get();
                }
            }
            for (int t = 0; t < 3; t++) {
                for (int round = 1; round < 4; round++) {
                    assertTrue(seen[t][round] == seen[t][0], "thread " + t + " got another batch in round " + round);
                }
                for (int u = 0; u < t; u++) {
                    assertTrue(seen[t][0] != seen[u][0], "threads " + u + " and " + t + " share a batch");
                }
            }
            assertTrue(q.batch() != seen[0][0] && q.batch() == q.batch(), "the test thread's own batch");
        } finally {
            for (java.util.concurrent.ExecutorService p : pools) {
                p.shutdownNow();
            }
        }
    }

    @Test
    void mapUnmapSyncAndTlbHitsAllocateNothing() {
        try (DriverBench b = new DriverBench("qemu", Map.of(), DriverBench.device(BDF))) {
            PciFunction fn = b.function(BDF);
            DeviceHandle dev = b.driver.probeDevice(fn);
            Smmuv3PagingDomain d = (Smmuv3PagingDomain) b.driver.allocPagingDomain(dev, 0, null);
            d.attachDevice(dev);
            long pa = b.machine.memory().frames().allocate(4);
            IotlbGather g = new IotlbGather();
            IommuUnitModel unit = b.machine.iommuUnit(DriverBench.UNIT);
            Translation t = new Translation();
            int rid = fn.rid();
            long sink = 0;
            for (int round = 0; round < 3; round++) {
                int iterations = round == 2 ? 10_000 : 2000;
                long before = allocatedBytes();
                for (int i = 0; i < iterations; i++) {
                    long iova = 0x10_0000L + (i & 15) * 4096L;
                    d.mapPages(iova, pa + (i & 15) * 4096L, 4096, 1, IoProt.READ | IoProt.WRITE);
                    for (int k = 0; k < 4; k++) {
                        sink += unit.translate(rid, -1, iova + k * 8, Translation.ACCESS_READ, t).physicalAddress();
                    }
                    sink += d.iovaToPhys(iova);
                    d.unmapPages(iova, 4096, 1, g);
                    d.iotlbSync(g);
                    g.reset();
                }
                long used = allocatedBytes() - before;
                if (round == 2) {
                    // reading the counter costs a few hundred bytes; one allocation per operation would cost
                    // at least 16 bytes x 10,000 iterations
                    assertTrue(used < 4096, used + " bytes allocated by 10,000 map/translate/unmap/sync rounds");
                }
            }
            assertTrue(sink != 0);
            assertEquals(DmaStatus.FAULT, fn.dmaRead(0x10_0000L, new byte[4]));
            assertEquals(0, b.smmu().cmdq.errors());
        }
    }
}
