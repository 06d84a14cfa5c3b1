package dev.iommufd.benchmarks;

import dev.iommufd.api.uapi.IommuHwptAlloc;
import dev.iommufd.api.uapi.IommuIoasMap;
import dev.iommufd.api.uapi.IommuViommuAlloc;
import dev.iommufd.core.IommufdFd;
import dev.iommufd.core.IommufdSubsystem;
import dev.iommufd.platform.IommuUnitConfig;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MapKind;
import dev.iommufd.platform.PciAddress;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.platform.PciFunctionSpec;
import dev.iommufd.platform.ProcessCapability;
import dev.iommufd.platform.Prot;
import dev.iommufd.platform.UserProcess;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.smmuv3.layout.TranslationDescriptor;
import dev.iommufd.spi.DomainAllocFlags;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.vtd.layout.FirstStagePte;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * B6c: a VMM's nested setup through the typed iommufd API, as the drivers' nesting tests build it. Guest RAM is
 * user memory of the VMM mapped into an IOAS at guest-physical {@link #GPA_BASE}; a NEST_PARENT hwpt over that
 * IOAS is the second stage (GPA to host PA); the guest's own first-stage tables, built by this fixture in guest
 * RAM, map {@code span} bytes of guest IOVA from {@link #GVA_BASE} in 4 KiB pages; a nested hwpt over the parent
 * points the device at them. Every first-stage table address, and every output address, is a GPA the hardware
 * translates through the second stage.
 *
 * <ul>
 *   <li>VT-d ({@code server} preset: scalable mode, nesting): nested hwpt from {@code struct iommu_hwpt_vtd_s1}
 *       ({@code IOMMU_HWPT_DATA_VTD_S1}: first-stage 4-level table at a GPA, 48-bit address width); first-stage
 *       entries as Linux writes them ({@link FirstStagePte}).
 *   <li>SMMUv3 ({@code server} preset: stage 1 and stage 2): a vIOMMU ({@code IOMMU_VIOMMU_TYPE_ARM_SMMUV3}) over
 *       the S2 parent, a vDEVICE for virtual StreamID {@link #VSID}, and a nested hwpt from the guest's vSTE
 *       ({@code IOMMU_HWPT_DATA_ARM_SMMUV3}: Config = stage-1 translate, S1ContextPtr = the IPA of a guest CD);
 *       the CD (ASID 7, T0SZ 16, 4 KiB granule) points at AArch64 4-level tables in guest RAM.
 * </ul>
 *
 * Guest RAM layout (pages from {@link #GPA_BASE}): 0 the SMMUv3 CD (unused on VT-d), 1 the top table (PML4 /
 * level 0), 2 the level below it (PDPT / level 1), then one directory per GiB, then {@link #dataPages} data pages
 * (leaf {@code i} maps data page {@code i mod dataPages}), then one leaf table per 2 MiB.
 */
public final class NestedFixture implements AutoCloseable {
    public static final long PAGE = 4096;
    /** Guest-physical base of guest RAM (the IOVA of the IOAS mapping): above both machines' MSI windows. */
    public static final long GPA_BASE = 1L << 32;
    /** First guest IOVA the first stage maps (first-stage / stage-1 input address). */
    public static final long GVA_BASE = 1L << 40;
    /** The VMM's address of guest RAM. */
    static final long VMM_VA = 0x10_0000_0000L;
    /** Guest data pages at most (64 MiB): leaves map them cyclically. */
    static final long MAX_DATA_PAGES = 16384;
    /** Virtual StreamID of the device in the SMMUv3 vIOMMU. */
    public static final long VSID = 0x42;
    /** CD word 0: T0SZ 16, TG0 4K, EPD1, V, IPS 48 bits, AA64, R, A, ASID 7 (the driver's nesting test's CD). */
    static final long CD0 = 0x0007_6205_C000_0010L;
    /** CD word 3: MAIR (attr 1 = normal write-back). */
    static final long CD3 = 0x0000_0000_f404_ff44L;
    /** A stage-1 page descriptor's attributes: page, AttrIndx 1, EL0 access, inner shareable, AF, nG. */
    static final long S1_PAGE_ATTRS = TranslationDescriptor.VALID | TranslationDescriptor.TYPE_PAGE
            | (1L << TranslationDescriptor.ATTRINDX_SHIFT) | TranslationDescriptor.AP_UNPRIV | TranslationDescriptor.SH_IS
            | TranslationDescriptor.AF | TranslationDescriptor.NG;

    public final Format format;
    public final SimulatedMachine machine;
    public final UserProcess process;
    public final IommufdFd fd;
    public final PciFunction function;
    public final IommuUnitModel unit;
    public final long span;
    public final long dataPages;
    /** Page index in guest RAM of the first data page. */
    public final long dataPage;
    public final long guestRamBytes;
    public final long vmmVa;
    public final int deviceId;
    public final int ioas;
    public final int parent;
    /** The SMMUv3 vIOMMU (0 on VT-d). */
    public final int viommu;
    public final int nested;

    public NestedFixture(Format format, long span) {
        if (span % (2L << 20) != 0 || span <= 0 || span > (512L << 30)) {
            throw new IllegalArgumentException("span must be a multiple of 2 MiB up to 512 GiB: " + span);
        }
        this.format = format;
        this.span = span;
        long directories = (span + (1L << 30) - 1) >>> 30;
        long leafTables = span >>> 21;
        dataPages = Math.min(span / PAGE, MAX_DATA_PAGES);
        dataPage = 3 + directories;
        long pages = dataPage + leafTables + dataPages;
        guestRamBytes = (pages * PAGE + (2L << 20) - 1) & -(2L << 20);
        machine = SimulatedMachine.create(MachineConfig.builder(format.profile).ramSize(guestRamBytes + (2L << 30))
                .iommu(new IommuUnitConfig(format.unit, format.model, 0, format.dirtyPreset, Map.of()))
                .device(PciFunctionSpec.endpoint("00:04.0", format.unit)).build());
        IommufdSubsystem subsystem = new IommufdSubsystem(machine);
        subsystem.iommu().bind(format.provider());
        process = machine.spawn("vmm", 0);
        process.grant(ProcessCapability.CAP_IPC_LOCK);
        vmmVa = process.mmap(VMM_VA, guestRamBytes, Prot.READ_WRITE, MapKind.ANONYMOUS);
        writeGuestTables(directories, leafTables);
        fd = subsystem.open(process);
        function = machine.pci().function(PciAddress.parse("00:04.0"));
        unit = machine.iommuUnit(format.unit);
        deviceId = fd.bindDevice(function);
        ioas = fd.ioasAlloc();
        fd.ioasMap(ioas, IommuIoasMap.FLAG_READABLE | IommuIoasMap.FLAG_WRITEABLE | IommuIoasMap.FLAG_FIXED_IOVA,
                vmmVa, guestRamBytes, GPA_BASE);
        parent = fd.hwptAlloc(deviceId, ioas, DomainAllocFlags.NEST_PARENT, 0, null, 0);
        if (format == Format.VTD_SS) {
            viommu = 0;
            // struct iommu_hwpt_vtd_s1 { __aligned_u64 flags; __aligned_u64 pgtbl_addr; __u32 addr_width; __u32 __reserved; }
            byte[] s1 = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(0).putLong(GPA_BASE + PAGE).putInt(48).putInt(0).array();
            nested = fd.hwptAlloc(deviceId, parent, 0, IommuHwptAlloc.DATA_VTD_S1, s1, 0);
        } else {
            viommu = fd.viommuAlloc(deviceId, parent, IommuViommuAlloc.TYPE_ARM_SMMUV3, null);
            fd.vdeviceAlloc(viommu, deviceId, VSID);
            // struct iommu_hwpt_arm_smmuv3 { __aligned_le64 ste[2]; }: V | Config=S1 translate, S1ContextPtr = CD IPA
            byte[] vste = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(GPA_BASE | 0xBL).putLong(0).array();
            nested = fd.hwptAlloc(deviceId, viommu, 0, IommuHwptAlloc.DATA_ARM_SMMUV3, vste, 0);
        }
        fd.deviceAttach(deviceId, 0, nested);
    }

    private long table(long gpa) {
        return format == Format.VTD_SS ? FirstStagePte.table(gpa)
                : (gpa & TranslationDescriptor.ADDR_47_12) | TranslationDescriptor.VALID | TranslationDescriptor.TYPE_TABLE;
    }

    private long leaf(long gpa) {
        return format == Format.VTD_SS ? FirstStagePte.leaf(gpa, 1, true) : (gpa & TranslationDescriptor.ADDR_47_12) | S1_PAGE_ATTRS;
    }

    /** The guest IOVA of page {@code i} of the mapping. */
    public static long gva(long i) {
        return GVA_BASE + i * PAGE;
    }

    /** The GPA leaf {@code i} points at. */
    public long dataGpa(long i) {
        return GPA_BASE + (dataPage + i % dataPages) * PAGE;
    }

    private void writeGuestTables(long directories, long leafTables) {
        ByteBuffer b = ByteBuffer.allocate((int) PAGE).order(ByteOrder.LITTLE_ENDIAN);
        if (format == Format.SMMUV3_LPAE4K) {
            b.putLong(0, CD0).putLong(8, (GPA_BASE + PAGE) & TranslationDescriptor.ADDR_47_12).putLong(24, CD3);
            writePage(0, b);
        }
        int top = (int) ((GVA_BASE >>> 39) & 511);
        b.putLong(top * 8, table(GPA_BASE + 2 * PAGE));
        writePage(1, b);
        int first = (int) ((GVA_BASE >>> 30) & 511);
        for (long d = 0; d < directories; d++) {
            b.putLong((int) (first + d) * 8, table(GPA_BASE + (3 + d) * PAGE));
        }
        writePage(2, b);
        for (long d = 0; d < directories; d++) {
            for (int e = 0; e < 512 && d * 512 + e < leafTables; e++) {
                b.putLong(e * 8, table(GPA_BASE + (dataPage + dataPages + d * 512 + e) * PAGE));
            }
            writePage(3 + d, b);
        }
        for (long t = 0; t < leafTables; t++) {
            for (int e = 0; e < 512; e++) {
                b.putLong(e * 8, leaf(dataGpa(t * 512 + e)));
            }
            writePage(dataPage + dataPages + t, b);
        }
    }

    /** Writes one guest page and zeroes the buffer. */
    private void writePage(long page, ByteBuffer b) {
        process.write(vmmVa + page * PAGE, b.array(), 0, (int) PAGE);
        java.util.Arrays.fill(b.array(), (byte) 0);
    }

    @Override
    public void close() {
        fd.close();
        machine.close();
    }
}
