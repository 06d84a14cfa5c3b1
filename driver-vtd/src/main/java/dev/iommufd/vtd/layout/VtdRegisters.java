package dev.iommufd.vtd.layout;

/**
 * The VT-d remapping unit's register window (VT-d specification chapter 11, "Register Descriptions"): offsets of
 * every register the model implements and the bits of the global command/status, fault, and queue registers.
 * CAP and ECAP fields are in {@link CapabilityRegister} and {@link ExtendedCapabilityRegister}.
 *
 * <p>The fault recording registers sit at {@code CAP.FRO * 16} and the IOTLB registers at {@code ECAP.IRO * 16};
 * they move with the capability values and are not constants here.
 *
 * <pre>
 *  GCMD_REG / GSTS_REG (32 bit, same bit for a command and its status)
 *   31   30    29   28    27   26   25   24     23
 *  +----+-----+----+-----+----+----+----+------+-----+--------------+
 *  | TE | SRTP| SFL| EAFL| WBF| QIE| IRE| SIRTP| CFI |  reserved    |
 *  | TES| RTPS| FLS| AFLS|WBFS|QIES|IRES|IRTPS | CFIS|              |
 *  +----+-----+----+-----+----+----+----+------+-----+--------------+
 *
 *  RTADDR_REG (64 bit)
 *   63                                  12 11  10 9        0
 *  +--------------------------------------+------+----------+
 *  |                 RTA                  | TTM  | reserved |
 *  +--------------------------------------+------+----------+
 *
 *  FSTS_REG (32 bit)
 *   31     16 15    8  7     6     5     4    3   2    1     0
 *  +---------+-------+-----+-----+-----+-----+-------+-----+-----+
 *  | rsvd    |  FRI  | PRO | ITE | ICE | IQE | rsvd  | PPF | PFO |
 *  +---------+-------+-----+-----+-----+-----+-------+-----+-----+
 *
 *  CCMD_REG (64 bit)
 *   63   62 61  60 59  58     34 33 32 31      16 15      0
 *  +-----+------+------+--------+-----+----------+---------+
 *  | ICC | CIRG | CAIG |  rsvd  | FM  |   SID    |   DID   |
 *  +-----+------+------+--------+-----+----------+---------+
 *
 *  IOTLB_REG (64 bit, at IRO*16 + 8)          IVA_REG (64 bit, at IRO*16)
 *   63  62  61 60 59 58 57 56  50 49 48 47  32 31  0     63        12 11  7  6  5    0
 *  +---+---+-----+--+-----+------+--+--+------+-----+   +------------+-----+----+------+
 *  |IVT|rsv| IIRG|rs| IAIG| rsvd |DR|DW| DID  |rsvd |   |    ADDR    |rsvd | IH |  AM  |
 *  +---+---+-----+--+-----+------+--+--+------+-----+   +------------+-----+----+------+
 *
 *  IQA_REG (64 bit)                         PQA_REG (64 bit)
 *   63            12  11  10  3 2  0        63            12 11   3 2   0
 *  +----------------+----+-----+----+      +----------------+-------+-----+
 *  |      IQA       | DW | rsv | QS |      |      PQA       | rsvd  | PQS |
 *  +----------------+----+-----+----+      +----------------+-------+-----+
 * </pre>
 */
public final class VtdRegisters {
    private VtdRegisters() {
    }

    public static final int VER_REG = 0x000;
    public static final int CAP_REG = 0x008;
    public static final int ECAP_REG = 0x010;
    public static final int GCMD_REG = 0x018;
    public static final int GSTS_REG = 0x01c;
    public static final int RTADDR_REG = 0x020;
    public static final int CCMD_REG = 0x028;
    public static final int FSTS_REG = 0x034;
    public static final int FECTL_REG = 0x038;
    public static final int FEDATA_REG = 0x03c;
    public static final int FEADDR_REG = 0x040;
    public static final int FEUADDR_REG = 0x044;
    public static final int AFLOG_REG = 0x058;
    public static final int PMEN_REG = 0x064;
    public static final int PLMBASE_REG = 0x068;
    public static final int PLMLIMIT_REG = 0x06c;
    public static final int PHMBASE_REG = 0x070;
    public static final int PHMLIMIT_REG = 0x078;
    public static final int IQH_REG = 0x080;
    public static final int IQT_REG = 0x088;
    public static final int IQA_REG = 0x090;
    public static final int ICS_REG = 0x09c;
    public static final int IECTL_REG = 0x0a0;
    public static final int IEDATA_REG = 0x0a4;
    public static final int IEADDR_REG = 0x0a8;
    public static final int IEUADDR_REG = 0x0ac;
    public static final int IQER_REG = 0x0b0;
    public static final int IRTA_REG = 0x0b8;
    public static final int PQH_REG = 0x0c0;
    public static final int PQT_REG = 0x0c8;
    public static final int PQA_REG = 0x0d0;
    public static final int PRS_REG = 0x0dc;
    public static final int PECTL_REG = 0x0e0;
    public static final int PEDATA_REG = 0x0e4;
    public static final int PEADDR_REG = 0x0e8;
    public static final int PEUADDR_REG = 0x0ec;

    /** Offset of the IVA register from {@code ECAP.IRO * 16}. */
    public static final int IVA_OFFSET = 0x0;
    /** Offset of the IOTLB register from {@code ECAP.IRO * 16}. */
    public static final int IOTLB_OFFSET = 0x8;
    /** Bytes per fault recording register. */
    public static final int FRCD_SIZE = 16;

    // GCMD / GSTS
    public static final int GCMD_TE = 1 << 31;
    public static final int GCMD_SRTP = 1 << 30;
    public static final int GCMD_SFL = 1 << 29;
    public static final int GCMD_EAFL = 1 << 28;
    public static final int GCMD_WBF = 1 << 27;
    public static final int GCMD_QIE = 1 << 26;
    public static final int GCMD_IRE = 1 << 25;
    public static final int GCMD_SIRTP = 1 << 24;
    public static final int GCMD_CFI = 1 << 23;
    public static final int GSTS_TES = GCMD_TE;
    public static final int GSTS_RTPS = GCMD_SRTP;
    public static final int GSTS_FLS = GCMD_SFL;
    public static final int GSTS_AFLS = GCMD_EAFL;
    public static final int GSTS_WBFS = GCMD_WBF;
    public static final int GSTS_QIES = GCMD_QIE;
    public static final int GSTS_IRES = GCMD_IRE;
    public static final int GSTS_IRTPS = GCMD_SIRTP;
    public static final int GSTS_CFIS = GCMD_CFI;

    // RTADDR
    public static final long RTADDR_RTA_MASK = 0xffff_ffff_ffff_f000L;
    public static final int RTADDR_TTM_SHIFT = 10;
    public static final long RTADDR_TTM_MASK = 3L << RTADDR_TTM_SHIFT;
    /** TTM = 00: legacy root and context tables. */
    public static final int TTM_LEGACY = 0;
    /** TTM = 01: scalable-mode root and context tables (Linux: DMA_RTADDR_SMT). */
    public static final int TTM_SCALABLE = 1;
    public static final long RTADDR_SMT = (long) TTM_SCALABLE << RTADDR_TTM_SHIFT;

    // FSTS / FECTL
    public static final int FSTS_PFO = 1 << 0;
    public static final int FSTS_PPF = 1 << 1;
    public static final int FSTS_IQE = 1 << 4;
    public static final int FSTS_ICE = 1 << 5;
    public static final int FSTS_ITE = 1 << 6;
    public static final int FSTS_PRO = 1 << 7;
    public static final int FSTS_FRI_SHIFT = 8;
    public static final int FSTS_FRI_MASK = 0xff << FSTS_FRI_SHIFT;
    /** Interrupt mask, in FECTL, IECTL and PECTL. */
    public static final int ECTL_IM = 1 << 31;
    /** Interrupt pending, in FECTL, IECTL and PECTL. */
    public static final int ECTL_IP = 1 << 30;

    // CCMD
    public static final long CCMD_ICC = 1L << 63;
    public static final int CCMD_CIRG_SHIFT = 61;
    public static final int CCMD_CAIG_SHIFT = 59;
    public static final int CCMD_FM_SHIFT = 32;
    public static final int CCMD_SID_SHIFT = 16;
    /** Granularity (CIRG/CAIG): global. */
    public static final int CCMD_GLOBAL = 1;
    /** Granularity: domain-selective. */
    public static final int CCMD_DOMAIN = 2;
    /** Granularity: device-selective. */
    public static final int CCMD_DEVICE = 3;

    public static long ccmd(int cirg, int did, int sid, int fm) {
        return CCMD_ICC | Bits.put(cirg, CCMD_CIRG_SHIFT, 2) | Bits.put(fm, CCMD_FM_SHIFT, 2)
                | Bits.put(sid, CCMD_SID_SHIFT, 16) | Bits.put(did, 0, 16);
    }

    public static int ccmdCirg(long v) {
        return (int) Bits.get(v, CCMD_CIRG_SHIFT, 2);
    }

    public static int ccmdCaig(long v) {
        return (int) Bits.get(v, CCMD_CAIG_SHIFT, 2);
    }

    // IOTLB register
    public static final long IOTLB_IVT = 1L << 63;
    public static final int IOTLB_IIRG_SHIFT = 60;
    public static final int IOTLB_IAIG_SHIFT = 57;
    public static final long IOTLB_DR = 1L << 49;
    public static final long IOTLB_DW = 1L << 48;
    public static final int IOTLB_DID_SHIFT = 32;
    /** IIRG/IAIG: global. */
    public static final int IOTLB_GLOBAL = 1;
    /** IIRG/IAIG: domain-selective. */
    public static final int IOTLB_DOMAIN = 2;
    /** IIRG/IAIG: page-selective within a domain. */
    public static final int IOTLB_PAGE = 3;
    public static final long IVA_IH = 1L << 6;

    public static long iotlbCommand(int iirg, int did) {
        return IOTLB_IVT | IOTLB_DR | IOTLB_DW | Bits.put(iirg, IOTLB_IIRG_SHIFT, 2) | Bits.put(did, IOTLB_DID_SHIFT, 16);
    }

    public static int iotlbIirg(long v) {
        return (int) Bits.get(v, IOTLB_IIRG_SHIFT, 2);
    }

    public static int iotlbIaig(long v) {
        return (int) Bits.get(v, IOTLB_IAIG_SHIFT, 2);
    }

    public static int iotlbDid(long v) {
        return (int) Bits.get(v, IOTLB_DID_SHIFT, 16);
    }

    public static long iva(long addr, boolean ih, int am) {
        return (addr & ~0xfffL) | (ih ? IVA_IH : 0) | Bits.put(am, 0, 6);
    }

    // IQA / IQH / IQT / ICS / IQER
    public static final long IQA_ADDR_MASK = 0xffff_ffff_ffff_f000L;
    public static final long IQA_DW_256 = 1L << 11;
    public static final int IQA_QS_MASK = 7;
    /** IQH/IQT: bits 18:4 hold the byte offset of a 128-bit descriptor. */
    public static final long IQ_OFFSET_MASK = 0x7_fff0L;
    public static final int ICS_IWC = 1;
    /** IQER.IQEI: the info field (bits 3:0). Codes as the spec lists them (11.4.9.9). */
    public static final int IQER_IQEI_MASK = 0xf;
    /** IQEI 0: no information available. */
    public static final int IQEI_NONE = 0;
    /** IQEI 1: the tail pointer is beyond the queue. */
    public static final int IQEI_TAIL_INVALID = 1;
    /** IQEI 2: a descriptor could not be fetched. */
    public static final int IQEI_FETCH_ERROR = 2;
    /** IQEI 3: a descriptor type is unknown or not valid for this unit. */
    public static final int IQEI_TYPE_INVALID = 3;
    /** IQEI 4: reserved fields of a descriptor are set (or a field value is out of range). */
    public static final int IQEI_RESERVED = 4;
    /** IQEI 5: the descriptor width (IQA.DW) does not suit the descriptor (page group responses are 256-bit). */
    public static final int IQEI_WIDTH = 5;
    /** IQEI 6: the tail pointer is misaligned (bit 4 set with 256-bit descriptors). */
    public static final int IQEI_TAIL_MISALIGNED = 6;
    /** IQEI 7: the descriptor type is not valid in the current translation table mode (RTADDR.TTM). */
    public static final int IQEI_INVALID_TTM = 7;

    /** Number of descriptors in the queue: {@code 2^(QS+8)} 128-bit or {@code 2^(QS+7)} 256-bit ones. */
    public static int iqEntries(long iqa) {
        int qs = (int) (iqa & IQA_QS_MASK);
        return 1 << (qs + 8 - ((iqa & IQA_DW_256) != 0 ? 1 : 0));
    }

    // PQA / PQH / PQT / PRS
    public static final long PQA_ADDR_MASK = 0xffff_ffff_ffff_f000L;
    public static final int PQA_PQS_MASK = 7;
    /** PQH/PQT: bits 18:5 hold the byte offset of a 256-bit page request descriptor. */
    public static final long PQ_OFFSET_MASK = 0x7_ffe0L;
    public static final int PRS_PPR = 1 << 0;
    public static final int PRS_PRO = 1 << 1;

    /** Bytes of the page request queue: {@code 2^PQS} pages. */
    public static long pqBytes(long pqa) {
        return 4096L << (pqa & PQA_PQS_MASK);
    }
}
