package dev.iommufd.smmuv3.layout;

/**
 * The SMMUv3 programming interface: register offsets and fields (IHI0070 chapter 6, Linux
 * {@code arm-smmu-v3.h} {@code ARM_SMMU_*}). Page 0 holds the control registers; page 1 (at {@code +0x10000})
 * holds EVENTQ_PROD/CONS and PRIQ_PROD/CONS. The window is 128 KiB ({@link #WINDOW_SIZE}).
 *
 * <p>Access widths (IHI0070 6.2): 32-bit registers accept aligned 32-bit accesses only; 64-bit registers
 * ({@code *_BASE}, {@code *_IRQ_CFG0}) accept aligned 64-bit accesses and aligned 32-bit accesses to either
 * half. Any other width is a bus error in this model.
 *
 * <pre>
 * SMMU_IDR0 (0x000)
 *  31 30 29 28:27    26   25:24    23   22:21   20  19   18  17  16  15  14  13  12  11  10  9   8   7:6  5   4   3:2 1   0
 * +--+-----+--------+----+--------+----+-------+---+----+---+---+---+---+---+---+---+---+---+---+---+----+---+---+---+---+---+
 * |  |RME  |ST_LVL  |TERM|STALL_M |ATSR|TTENDI |VAT|CD2L|V16|VMW|PRI|ATO|SEV|MSI|A16|NS1|ATS|HYP|DOR|HTTU|BTM|COH|TTF|S1P|S2P|
 * +--+-----+--------+----+--------+----+-------+---+----+---+---+---+---+---+---+---+---+---+---+---+----+---+---+---+---+---+
 *
 * SMMU_IDR1 (0x004)
 *  31    30      29      28  27   26   25:21  20:16   15:11  10:6     5:0
 * +-----+------+-------+---+----+----+------+-------+------+--------+--------+
 * |ECMDQ|TBL_PR|QUE_PR |REL|ATO |APO |CMDQS |EVENTQS|PRIQS |SSIDSIZE|SIDSIZE |
 * +-----+------+-------+---+----+----+------+-------+------+--------+--------+
 *
 * SMMU_IDR5 (0x014)
 *  31:16      15:12  11:10  9  8    7   6       5       4       3   2:0
 * +----------+------+-----+--+-----+--+-------+-------+-------+---+-----+
 * |STALL_MAX | RES0 | VAX |  |D128 |DS|GRAN64K|GRAN16K|GRAN4K |   | OAS |
 * +----------+------+-----+--+-----+--+-------+-------+-------+---+-----+
 *
 * SMMU_CR0 (0x020)               SMMU_STRTAB_BASE_CFG (0x088)           queue *_BASE (0x090, 0x0a0, 0x0c0)
 *  10   8:6  4      3      2    1    0    17:16  10:6   5:0            63  62    55:5           4:0
 * +---+----+------+------+-----+----+---+ +-----+------+--------+     +--+----+--------------+--------+
 * |DPT|VMW |ATSCHK|CMDQEN|EVTEN|PRIE|EN | | FMT |SPLIT |LOG2SIZE|     |  | RA | ADDR[55:5]   |LOG2SIZE|
 * +---+----+------+------+-----+----+---+ +-----+------+--------+     +--+----+--------------+--------+
 *
 * queue PROD/CONS for a queue of 2^n entries          CMDQ_CONS
 *  31      n   n-1:0                                   30:24   19:0
 * +------+----+------+                                +------+-------+
 * |OVFLG |WRP | IDX  |  (EVTQ/PRIQ PROD: OVFLG,        | ERR  |  RD   |
 * +------+----+------+   CONS: OVACKFLG)              +------+-------+
 * </pre>
 */
public final class SmmuRegisters {
    private SmmuRegisters() {
    }

    /** Size of the register window: two 64 KiB pages. */
    public static final long WINDOW_SIZE = 0x20000;
    /** Offset of register page 1. */
    public static final long PAGE1 = 0x10000;

    public static final int IDR0 = 0x000;
    public static final int IDR1 = 0x004;
    public static final int IDR2 = 0x008;
    public static final int IDR3 = 0x00c;
    public static final int IDR4 = 0x010;
    public static final int IDR5 = 0x014;
    public static final int IIDR = 0x018;
    public static final int AIDR = 0x01c;
    public static final int CR0 = 0x020;
    public static final int CR0ACK = 0x024;
    public static final int CR1 = 0x028;
    public static final int CR2 = 0x02c;
    public static final int STATUSR = 0x040;
    public static final int GBPA = 0x044;
    public static final int AGBPA = 0x048;
    public static final int IRQ_CTRL = 0x050;
    public static final int IRQ_CTRLACK = 0x054;
    public static final int GERROR = 0x060;
    public static final int GERRORN = 0x064;
    public static final int GERROR_IRQ_CFG0 = 0x068;
    public static final int GERROR_IRQ_CFG1 = 0x070;
    public static final int GERROR_IRQ_CFG2 = 0x074;
    public static final int STRTAB_BASE = 0x080;
    public static final int STRTAB_BASE_CFG = 0x088;
    public static final int CMDQ_BASE = 0x090;
    public static final int CMDQ_PROD = 0x098;
    public static final int CMDQ_CONS = 0x09c;
    public static final int EVENTQ_BASE = 0x0a0;
    public static final int EVENTQ_IRQ_CFG0 = 0x0b0;
    public static final int EVENTQ_IRQ_CFG1 = 0x0b8;
    public static final int EVENTQ_IRQ_CFG2 = 0x0bc;
    public static final int PRIQ_BASE = 0x0c0;
    public static final int PRIQ_IRQ_CFG0 = 0x0d0;
    public static final int PRIQ_IRQ_CFG1 = 0x0d8;
    public static final int PRIQ_IRQ_CFG2 = 0x0dc;
    public static final int EVENTQ_PROD = 0x100a8;
    public static final int EVENTQ_CONS = 0x100ac;
    public static final int PRIQ_PROD = 0x100c8;
    public static final int PRIQ_CONS = 0x100cc;

    // ---- SMMU_IDR0
    public static final int IDR0_S2P = 1 << 0;
    public static final int IDR0_S1P = 1 << 1;
    public static final int IDR0_TTF_SHIFT = 2;
    public static final int IDR0_TTF_AARCH64 = 2;
    public static final int IDR0_TTF_AARCH32_64 = 3;
    public static final int IDR0_COHACC = 1 << 4;
    public static final int IDR0_BTM = 1 << 5;
    public static final int IDR0_HTTU_SHIFT = 6;
    public static final int IDR0_HTTU_ACCESS = 1;
    public static final int IDR0_HTTU_ACCESS_DIRTY = 2;
    public static final int IDR0_HYP = 1 << 9;
    public static final int IDR0_ATS = 1 << 10;
    public static final int IDR0_NS1ATS = 1 << 11;
    public static final int IDR0_ASID16 = 1 << 12;
    public static final int IDR0_MSI = 1 << 13;
    public static final int IDR0_SEV = 1 << 14;
    public static final int IDR0_PRI = 1 << 16;
    public static final int IDR0_VMID16 = 1 << 18;
    public static final int IDR0_CD2L = 1 << 19;
    public static final int IDR0_TTENDIAN_SHIFT = 21;
    public static final int IDR0_TTENDIAN_MIXED = 0;
    public static final int IDR0_TTENDIAN_LE = 2;
    public static final int IDR0_TTENDIAN_BE = 3;
    public static final int IDR0_STALL_MODEL_SHIFT = 24;
    public static final int IDR0_STALL_MODEL_STALL_TERMINATE = 0;
    public static final int IDR0_STALL_MODEL_TERMINATE = 1;
    public static final int IDR0_STALL_MODEL_FORCED = 2;
    public static final int IDR0_TERM_MODEL = 1 << 26;
    public static final int IDR0_ST_LEVEL_SHIFT = 27;
    public static final int IDR0_ST_LEVEL_2LVL = 1;

    // ---- SMMU_IDR1
    public static final int IDR1_SIDSIZE_SHIFT = 0;
    public static final int IDR1_SSIDSIZE_SHIFT = 6;
    public static final int IDR1_PRIQS_SHIFT = 11;
    public static final int IDR1_EVENTQS_SHIFT = 16;
    public static final int IDR1_CMDQS_SHIFT = 21;
    public static final int IDR1_ATTR_PERMS_OVR = 1 << 26;
    public static final int IDR1_ATTR_TYPES_OVR = 1 << 27;
    public static final int IDR1_REL = 1 << 28;
    public static final int IDR1_QUEUES_PRESET = 1 << 29;
    public static final int IDR1_TABLES_PRESET = 1 << 30;

    // ---- SMMU_IDR3
    public static final int IDR3_HAD = 1 << 2;
    public static final int IDR3_XNX = 1 << 4;
    public static final int IDR3_FWB = 1 << 8;
    public static final int IDR3_STT = 1 << 9;
    public static final int IDR3_RIL = 1 << 10;
    public static final int IDR3_BBML_SHIFT = 11;

    // ---- SMMU_IDR5
    public static final int IDR5_OAS_MASK = 0x7;
    public static final int IDR5_GRAN4K = 1 << 4;
    public static final int IDR5_GRAN16K = 1 << 5;
    public static final int IDR5_GRAN64K = 1 << 6;
    public static final int IDR5_DS = 1 << 7;
    public static final int IDR5_VAX_SHIFT = 10;
    public static final int IDR5_STALL_MAX_SHIFT = 16;

    // ---- SMMU_CR0 / CR0ACK
    public static final int CR0_SMMUEN = 1 << 0;
    public static final int CR0_PRIQEN = 1 << 1;
    public static final int CR0_EVTQEN = 1 << 2;
    public static final int CR0_CMDQEN = 1 << 3;
    public static final int CR0_ATSCHK = 1 << 4;
    public static final int CR0_VMW_SHIFT = 6;
    /** Every CR0 bit this model implements (the rest are RES0 and read back as 0 in CR0ACK). */
    public static final int CR0_IMPLEMENTED = CR0_SMMUEN | CR0_PRIQEN | CR0_EVTQEN | CR0_CMDQEN | CR0_ATSCHK | 7 << CR0_VMW_SHIFT;

    // ---- SMMU_CR1 (SMMU-originated accesses' attributes)
    public static final int CR1_QUEUE_IC_SHIFT = 0;
    public static final int CR1_QUEUE_OC_SHIFT = 2;
    public static final int CR1_QUEUE_SH_SHIFT = 4;
    public static final int CR1_TABLE_IC_SHIFT = 6;
    public static final int CR1_TABLE_OC_SHIFT = 8;
    public static final int CR1_TABLE_SH_SHIFT = 10;
    public static final int CR1_CACHE_WB = 1;
    public static final int CR1_SH_ISH = 3;

    // ---- SMMU_CR2
    public static final int CR2_E2H = 1 << 0;
    public static final int CR2_RECINVSID = 1 << 1;
    public static final int CR2_PTM = 1 << 2;

    // ---- SMMU_GBPA
    public static final int GBPA_UPDATE = 1 << 31;
    public static final int GBPA_ABORT = 1 << 20;

    // ---- SMMU_IRQ_CTRL
    public static final int IRQ_CTRL_GERROR_IRQEN = 1 << 0;
    public static final int IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
    public static final int IRQ_CTRL_EVTQ_IRQEN = 1 << 2;

    // ---- SMMU_GERROR / GERRORN
    public static final int GERROR_CMDQ_ERR = 1 << 0;
    public static final int GERROR_EVTQ_ABT_ERR = 1 << 2;
    public static final int GERROR_PRIQ_ABT_ERR = 1 << 3;
    public static final int GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
    public static final int GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
    public static final int GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
    public static final int GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
    public static final int GERROR_SFM_ERR = 1 << 8;
    public static final int GERROR_MASK = 0x1fd;

    // ---- SMMU_STRTAB_BASE / _CFG
    public static final long STRTAB_BASE_RA = 1L << 62;
    /** ADDR[55:6]. */
    public static final long STRTAB_BASE_ADDR_MASK = 0x00ff_ffff_ffff_ffc0L;
    public static final int STRTAB_BASE_CFG_LOG2SIZE_MASK = 0x3f;
    public static final int STRTAB_BASE_CFG_SPLIT_SHIFT = 6;
    public static final int STRTAB_BASE_CFG_SPLIT_MASK = 0x1f;
    public static final int STRTAB_BASE_CFG_FMT_SHIFT = 16;
    public static final int STRTAB_BASE_CFG_FMT_LINEAR = 0;
    public static final int STRTAB_BASE_CFG_FMT_2LVL = 1;

    // ---- queue *_BASE
    public static final long Q_BASE_RWA = 1L << 62;
    /** ADDR[55:5]. */
    public static final long Q_BASE_ADDR_MASK = 0x00ff_ffff_ffff_ffe0L;
    public static final int Q_BASE_LOG2SIZE_MASK = 0x1f;

    // ---- queue PROD/CONS
    public static final int Q_OVERFLOW_FLAG = 1 << 31;
    public static final int CMDQ_CONS_ERR_SHIFT = 24;
    public static final int CMDQ_CONS_ERR_MASK = 0x7f;
    public static final int CERROR_NONE = 0;
    public static final int CERROR_ILL = 1;
    public static final int CERROR_ABT = 2;
    public static final int CERROR_ATC_INV_SYNC = 3;

    /** {@code *_IRQ_CFG0} ADDR[55:2]. */
    public static final long IRQ_CFG0_ADDR_MASK = 0x00ff_ffff_ffff_fffcL;

    /** Queue index of a PROD/CONS value for a queue of {@code 2^log2size} entries ({@code Q_IDX}). */
    public static int queueIndex(int pointer, int log2size) {
        return pointer & ((1 << log2size) - 1);
    }

    /** The wrap flag ({@code Q_WRP}): bit {@code log2size}. */
    public static int queueWrap(int pointer, int log2size) {
        return pointer & (1 << log2size);
    }

    /** Empty: index and wrap equal. */
    public static boolean queueEmpty(int prod, int cons, int log2size) {
        int m = (2 << log2size) - 1;
        return (prod & m) == (cons & m);
    }

    /** Full: index equal, wrap different. */
    public static boolean queueFull(int prod, int cons, int log2size) {
        return queueIndex(prod, log2size) == queueIndex(cons, log2size)
                && queueWrap(prod, log2size) != queueWrap(cons, log2size);
    }

    /** Advances a pointer by one entry (index + wrap, keeping bits above the wrap flag). */
    public static int queueIncrement(int pointer, int log2size) {
        int m = (2 << log2size) - 1;
        return pointer & ~m | ((pointer & m) + 1) & m;
    }

    /** Output address size in bits for the OAS/IPS/PS encoding (0=32 .. 6=52, 7=56). */
    public static int addressSizeBits(int encoding) {
        switch (encoding & 7) {
            case 0: return 32;
            case 1: return 36;
            case 2: return 40;
            case 3: return 42;
            case 4: return 44;
            case 5: return 48;
            case 6: return 52;
            default: return 56;
        }
    }

    /** The OAS/IPS/PS encoding of an address size in bits. */
    public static int addressSizeEncoding(int bits) {
        switch (bits) {
            case 32: return 0;
            case 36: return 1;
            case 40: return 2;
            case 42: return 3;
            case 44: return 4;
            case 48: return 5;
            case 52: return 6;
            case 56: return 7;
            default: throw new IllegalArgumentException("not an architected address size: " + bits);
        }
    }

    /** Whether the register at {@code offset} is a 64-bit register. */
    public static boolean is64Bit(long offset) {
        return offset == GERROR_IRQ_CFG0 || offset == STRTAB_BASE || offset == CMDQ_BASE || offset == EVENTQ_BASE
                || offset == EVENTQ_IRQ_CFG0 || offset == PRIQ_BASE || offset == PRIQ_IRQ_CFG0;
    }
}
