package dev.iommufd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.iommufd.api.uapi.IommuDestroy;
import dev.iommufd.api.uapi.IommuHwInfo;
import dev.iommufd.api.uapi.IommuHwQueueAlloc;
import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuHwptGetDirtyBitmap;
import dev.iommufd.api.uapi.IommuHwptInvalidate;
import dev.iommufd.api.uapi.IommuHwptSetDirtyTracking;
import dev.iommufd.api.uapi.IommuFaultAlloc;
import dev.iommufd.api.uapi.IommuIoasAlloc;
import dev.iommufd.api.uapi.IommuIoasAllowIovas;
import dev.iommufd.api.uapi.IommuIoasChangeProcess;
import dev.iommufd.api.uapi.IommuIoasCopy;
import dev.iommufd.api.uapi.IommuIoasIovaRanges;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuIoasMapFile;
import dev.iommufd.api.uapi.IommuIoasUnmap;
import dev.iommufd.api.uapi.IommuOption;
import dev.iommufd.api.uapi.IommuVdeviceAlloc;
import dev.iommufd.api.uapi.IommuVeventqAlloc;
import dev.iommufd.api.uapi.IommuVfioIoas;
import dev.iommufd.api.uapi.IommuViommuAlloc;
import dev.iommufd.api.uapi.IommufdCommands;
import org.junit.jupiter.api.Test;

/** The uAPI layouts against the sizes of include/uapi/linux/iommufd.h (v6.17) and the dispatcher's min sizes. */
class UapiLayoutTest {

    private static void struct(int size, int minSize, int actualSize, int actualMin) {
        assertEquals(size, actualSize, "sizeof");
        assertEquals(minSize, actualMin, "min_size");
    }

    @Test
    void sizesAndMinSizesMatchTheKernelTable() {
        // reference iommufd-core.md §1.4, typed in by hand
        struct(8, 8, IommuDestroy.SIZE, IommuDestroy.MIN_SIZE);
        struct(12, 12, IommuIoasAlloc.SIZE, IommuIoasAlloc.MIN_SIZE);
        struct(24, 24, IommuIoasAllowIovas.SIZE, IommuIoasAllowIovas.MIN_SIZE);
        struct(40, 40, IommuIoasCopy.SIZE, IommuIoasCopy.MIN_SIZE);
        struct(32, 32, IommuIoasIovaRanges.SIZE, IommuIoasIovaRanges.MIN_SIZE);
        struct(40, 40, IommuIoasMap.SIZE, IommuIoasMap.MIN_SIZE);
        struct(40, 40, IommuIoasMapFile.SIZE, IommuIoasMapFile.MIN_SIZE);
        struct(24, 24, IommuIoasUnmap.SIZE, IommuIoasUnmap.MIN_SIZE);
        struct(24, 24, IommuOption.SIZE, IommuOption.MIN_SIZE);
        struct(12, 12, IommuVfioIoas.SIZE, IommuVfioIoas.MIN_SIZE);
        struct(48, 24, IommuHwptAlloc.SIZE, IommuHwptAlloc.MIN_SIZE);
        struct(40, 32, IommuHwInfo.SIZE, IommuHwInfo.MIN_SIZE);
        struct(16, 16, IommuHwptSetDirtyTracking.SIZE, IommuHwptSetDirtyTracking.MIN_SIZE);
        struct(48, 48, IommuHwptGetDirtyBitmap.SIZE, IommuHwptGetDirtyBitmap.MIN_SIZE);
        struct(32, 32, IommuHwptInvalidate.SIZE, IommuHwptInvalidate.MIN_SIZE);
        struct(16, 16, IommuFaultAlloc.SIZE, IommuFaultAlloc.MIN_SIZE);
        struct(40, 24, IommuViommuAlloc.SIZE, IommuViommuAlloc.MIN_SIZE);
        struct(24, 24, IommuVdeviceAlloc.SIZE, IommuVdeviceAlloc.MIN_SIZE);
        struct(8, 8, IommuIoasChangeProcess.SIZE, IommuIoasChangeProcess.MIN_SIZE);
        struct(32, 28, IommuVeventqAlloc.SIZE, IommuVeventqAlloc.MIN_SIZE);
        struct(40, 40, IommuHwQueueAlloc.SIZE, IommuHwQueueAlloc.MIN_SIZE);
    }

    @Test
    void fieldOffsetsFollowTheWireLayout() {
        assertEquals(32, IommuIoasMap.OFFSET_IOVA);
        assertEquals(16, IommuIoasMap.OFFSET_USER_VA);
        assertEquals(12, IommuIoasMapFile.OFFSET_FD);
        assertEquals(16, IommuOption.OFFSET_VAL64);
        assertEquals(10, IommuOption.OFFSET_RESERVED);
        assertEquals(28, IommuHwInfo.OFFSET_OUT_MAX_PASID_LOG2);
        assertEquals(32, IommuHwInfo.OFFSET_OUT_CAPABILITIES);
        assertEquals(40, IommuHwptAlloc.OFFSET_FAULT_ID);
    }

    @Test
    void requestsAreIoSemicolonNr() {
        // _IO(';', 0x80) = (0x3b << 8) | 0x80
        assertEquals(0x3b80L, IommuDestroy.REQUEST);
        assertEquals(0x3b85L, IommuIoasMap.REQUEST);
        assertEquals(0x3b94L, IommuHwQueueAlloc.REQUEST);
        assertEquals(0x3ba0L, IommufdCommands.request(IommufdCommands.NR_TEST_CMD));
    }
}
