package dev.iommufd.vtd.hw;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.vtd.layout.CapabilityRegister;
import dev.iommufd.vtd.layout.ExtendedCapabilityRegister;
import java.util.List;
import java.util.Map;

/**
 * The parameter sets a VT-d unit can be created with, and the override names ({@code VER_REG}, {@code CAP_REG},
 * {@code ECAP_REG}, {@code HAW}) that replace single values.
 *
 * <ul>
 *   <li>{@code qemu}: QEMU's {@code intel-iommu} defaults with {@code aw-bits=48}: VER 1.0; CAP with ND 6
 *       (64 K domain IDs), SAGAW 39+48 bit, MGAW 48, FRO 0x22 (records at 0x220), one fault record, SLLPS
 *       2 MiB + 1 GiB, PSI, MAMV 18, DRD/DWD; ECAP with QI, PT and IRO 0xF (IVA at 0xF0). Legacy mode only
 *       (QEMU needs {@code x-scalable-mode} for scalable mode). Host address width 48.
 *   <li>{@code server}: like a current server part: VER 6.0; CAP with ND 6, SAGAW 48+57, MGAW 57, FRO 0x40,
 *       8 fault records, SLLPS 2 MiB + 1 GiB, PSI, MAMV 18, DRD/DWD, FL1GP, FL5LP; ECAP with C, QI, DT, PT, SC,
 *       IRO 0x50, NEST, PRS, PASID (PSS 19: 20-bit PASIDs), SMTS, SLADS, SLTS, FLTS, SMPWC. Host address
 *       width 52.
 * </ul>
 */
public record VtdPreset(int version, long cap, long ecap, int haw) {

    /** Preset names; the first is the default. */
    public static final List<String> NAMES = List.of("qemu", "server");

    public static final VtdPreset QEMU = new VtdPreset(0x10,
            CapabilityRegister.encode(6, CapabilityRegister.SAGAW_39 | CapabilityRegister.SAGAW_48, 48, 0x22,
                    CapabilityRegister.SLLPS_2M | CapabilityRegister.SLLPS_1G, 0, 18,
                    CapabilityRegister.PSI | CapabilityRegister.DRD | CapabilityRegister.DWD),
            ExtendedCapabilityRegister.encode(0xf, 0, ExtendedCapabilityRegister.QI | ExtendedCapabilityRegister.PT),
            48);

    public static final VtdPreset SERVER = new VtdPreset(0x60,
            CapabilityRegister.encode(6, CapabilityRegister.SAGAW_48 | CapabilityRegister.SAGAW_57, 57, 0x40,
                    CapabilityRegister.SLLPS_2M | CapabilityRegister.SLLPS_1G, 7, 18,
                    CapabilityRegister.PSI | CapabilityRegister.DRD | CapabilityRegister.DWD | CapabilityRegister.FL1GP
                            | CapabilityRegister.FL5LP),
            ExtendedCapabilityRegister.encode(0x50, 19, ExtendedCapabilityRegister.C | ExtendedCapabilityRegister.QI
                    | ExtendedCapabilityRegister.DT | ExtendedCapabilityRegister.PT | ExtendedCapabilityRegister.SC
                    | ExtendedCapabilityRegister.NEST | ExtendedCapabilityRegister.PRS | ExtendedCapabilityRegister.PASID
                    | ExtendedCapabilityRegister.SMTS | ExtendedCapabilityRegister.SLADS | ExtendedCapabilityRegister.SLTS
                    | ExtendedCapabilityRegister.FLTS | ExtendedCapabilityRegister.SMPWC),
            52);

    /**
     * The preset {@code name} with {@code overrides} applied.
     *
     * @throws ErrnoException EINVAL for an unknown preset or override name, or register values the model cannot
     *         honour (fault records or IOTLB registers outside the 4 KiB window or overlapping fixed registers)
     */
    public static VtdPreset resolve(String name, Map<String, Long> overrides) {
        VtdPreset p;
        switch (name) {
            case "qemu":
                p = QEMU;
                break;
            case "server":
                p = SERVER;
                break;
            default:
                throw ErrnoException.of(Errno.EINVAL, "vtd: unknown preset '%s' (known: %s)", name, NAMES);
        }
        int ver = p.version;
        long cap = p.cap;
        long ecap = p.ecap;
        int haw = p.haw;
        for (Map.Entry<String, Long> e : overrides.entrySet()) {
            long v = e.getValue();
            switch (e.getKey()) {
                case "VER_REG":
                    ver = (int) v;
                    break;
                case "CAP_REG":
                    cap = v;
                    break;
                case "ECAP_REG":
                    ecap = v;
                    break;
                case "HAW":
                    if (v < 32 || v > 52) {
                        throw ErrnoException.of(Errno.EINVAL, "vtd: override HAW=%d outside 32..52", v);
                    }
                    haw = (int) v;
                    break;
                default:
                    throw ErrnoException.of(Errno.EINVAL,
                            "vtd: unknown override '%s' (known: VER_REG, CAP_REG, ECAP_REG, HAW)", e.getKey());
            }
        }
        int fro = CapabilityRegister.faultRecordOffset(cap);
        int frEnd = fro + CapabilityRegister.faultRecordCount(cap) * 16;
        int iro = ExtendedCapabilityRegister.iotlbRegisterOffset(ecap);
        if (fro < 0x100 || frEnd > 0x1000) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: CAP_REG.FRO/NFR put fault records at %#x..%#x, outside 0x100..0x1000",
                    fro, frEnd);
        }
        if (iro < 0xf0 || iro + 16 > 0x1000 || (iro < frEnd && iro + 16 > fro)) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: ECAP_REG.IRO puts the IOTLB registers at %#x, outside the free window", iro);
        }
        if (CapabilityRegister.sagaw(cap) == 0) {
            throw ErrnoException.of(Errno.EINVAL, "vtd: CAP_REG.SAGAW is empty");
        }
        return new VtdPreset(ver, cap, ecap, haw);
    }
}
