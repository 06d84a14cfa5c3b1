package dev.iommufd.smmuv3.layout;

import static dev.iommufd.smmuv3.layout.BitField.bit;
import static dev.iommufd.smmuv3.layout.BitField.range;

/**
 * Command queue entries: 16 bytes, two little-endian dwords (IHI0070 chapter 4, Linux {@code CMDQ_*}).
 *
 * <pre>
 * dword 0 (common)                            PREFETCH_* / CFGI_* / ATC_INV / PRI_RESP
 *  63:32   31:12  11   10:8   7:0              63:32  31:12  11   9     (dword1: Leaf bit0, Range[4:0],
 * +------+------+----+------+------+          +-----+------+----+------+  ATC Size[5:0] Addr[63:12],
 * | ...  | ...  |SSV | ...  |opcode|          | SID | SSID |SSV |Global|  PRI PRGIndex[8:0] Resp[13:12])
 * +------+------+----+------+------+          +-----+------+----+------+
 * TLBI_*                                       dword 1 of TLBI_*_VA / _VAA / S2_IPA
 *  63:48  47:32  24:20  16:12   7:0             63:12            11:10  9:8  7      0
 * +------+------+------+------+------+         +----------------+------+----+------+----+
 * | ASID | VMID |SCALE | NUM  |opcode|         | Address[63:12] |  TG  |TTL |TTL128|Leaf|
 * +------+------+------+------+------+         +----------------+------+----+------+----+
 * CMD_SYNC                                     RESUME
 *  63:32     27:24    23:22 13:12  7:0          63:32  13  12         dword1: STAG[15:0]
 * +--------+-------+-----+-----+------+        +-----+---+---+------+
 * |MSIData |MSIAttr| MSH | CS  |opcode|        | SID |Ab |Ac |opcode|  (Linux: RESP[13:12] TERM 0 RETRY 1 ABORT 2)
 * +--------+-------+-----+-----+------+        +-----+---+---+------+
 *  dword1: MSIAddr[55:2]
 * </pre>
 */
public final class Command {
    private Command() {
    }

    public static final int SIZE = 16;
    public static final int DWORDS = 2;

    public static final int OP_PREFETCH_CONFIG = 0x01;
    public static final int OP_PREFETCH_ADDR = 0x02;
    public static final int OP_CFGI_STE = 0x03;
    public static final int OP_CFGI_STE_RANGE = 0x04;
    public static final int OP_CFGI_CD = 0x05;
    public static final int OP_CFGI_CD_ALL = 0x06;
    public static final int OP_TLBI_NH_ALL = 0x10;
    public static final int OP_TLBI_NH_ASID = 0x11;
    public static final int OP_TLBI_NH_VA = 0x12;
    public static final int OP_TLBI_NH_VAA = 0x13;
    public static final int OP_TLBI_EL3_ALL = 0x18;
    public static final int OP_TLBI_EL3_VA = 0x1a;
    public static final int OP_TLBI_EL2_ALL = 0x20;
    public static final int OP_TLBI_EL2_ASID = 0x21;
    public static final int OP_TLBI_EL2_VA = 0x22;
    public static final int OP_TLBI_EL2_VAA = 0x23;
    public static final int OP_TLBI_S12_VMALL = 0x28;
    public static final int OP_TLBI_S2_IPA = 0x2a;
    public static final int OP_TLBI_NSNH_ALL = 0x30;
    public static final int OP_ATC_INV = 0x40;
    public static final int OP_PRI_RESP = 0x41;
    public static final int OP_RESUME = 0x44;
    public static final int OP_STALL_TERM = 0x45;
    public static final int OP_CMD_SYNC = 0x46;

    public static final long OPCODE = range(0, 7, 0);
    public static final long SSV = bit(0, 11);
    public static final long SSID = range(0, 31, 12);
    public static final long SID = range(0, 63, 32);
    // PREFETCH_ADDR dword 1
    public static final long PREFETCH_SIZE = range(1, 4, 0);
    public static final long PREFETCH_STRIDE = range(1, 12, 8);
    public static final long PREFETCH_ADDR = range(1, 63, 12);
    // CFGI
    public static final long CFGI_LEAF = bit(1, 0);
    public static final long CFGI_RANGE = range(1, 4, 0);
    /** CFGI_STE_RANGE Range value that means "all StreamIDs" (Linux builds CFGI_ALL this way). */
    public static final int CFGI_RANGE_ALL = 31;
    // TLBI
    public static final long TLBI_NUM = range(0, 16, 12);
    public static final long TLBI_SCALE = range(0, 24, 20);
    public static final long TLBI_VMID = range(0, 47, 32);
    public static final long TLBI_ASID = range(0, 63, 48);
    public static final long TLBI_LEAF = bit(1, 0);
    public static final long TLBI_TTL128 = bit(1, 7);
    public static final long TLBI_TTL = range(1, 9, 8);
    public static final long TLBI_TG = range(1, 11, 10);
    /** Address[63:12] kept in place. */
    public static final long TLBI_ADDR = range(1, 63, 12);
    /** IPA[55:12] kept in place. */
    public static final long TLBI_IPA = range(1, 55, 12);
    public static final int TLBI_RANGE_NUM_MAX = 31;
    // ATC_INV
    public static final long ATC_GLOBAL = bit(0, 9);
    public static final long ATC_SIZE = range(1, 5, 0);
    public static final long ATC_ADDR = range(1, 63, 12);
    public static final int ATC_INV_SIZE_ALL = 52;
    // PRI_RESP
    public static final long PRI_GRPID = range(1, 8, 0);
    public static final long PRI_RESP = range(1, 13, 12);
    public static final int PRI_RESP_DENY = 0;
    public static final int PRI_RESP_FAIL = 1;
    public static final int PRI_RESP_SUCC = 2;
    // RESUME
    public static final long RESUME_RESP = range(0, 13, 12);
    public static final long RESUME_STAG = range(1, 15, 0);
    public static final int RESUME_TERM = 0;
    public static final int RESUME_RETRY = 1;
    public static final int RESUME_ABORT = 2;
    // CMD_SYNC
    public static final long SYNC_CS = range(0, 13, 12);
    public static final long SYNC_MSH = range(0, 23, 22);
    public static final long SYNC_MSIATTR = range(0, 27, 24);
    public static final long SYNC_MSIDATA = range(0, 63, 32);
    /** MSIAddr[55:2] kept in place. */
    public static final long SYNC_MSIADDR = range(1, 55, 2);
    public static final int SYNC_CS_NONE = 0;
    public static final int SYNC_CS_IRQ = 1;
    public static final int SYNC_CS_SEV = 2;

    /** {@code CMD_CFGI_STE}: invalidate the STE of {@code sid} (and, with {@code leaf=false}, its L1STD). */
    public static void cfgiSte(long[] out, int sid, boolean leaf) {
        out[0] = OP_CFGI_STE | (sid & 0xffff_ffffL) << 32;
        out[1] = leaf ? 1 : 0;
    }

    /** {@code CMD_CFGI_STE_RANGE}: {@code 2^(range+1)} StreamIDs from {@code sid} aligned down; 31 = all. */
    public static void cfgiSteRange(long[] out, int sid, int range) {
        out[0] = OP_CFGI_STE_RANGE | (sid & 0xffff_ffffL) << 32;
        out[1] = range & 0x1f;
    }

    /** {@code CMD_CFGI_ALL} as Linux builds it. */
    public static void cfgiAll(long[] out) {
        cfgiSteRange(out, 0, CFGI_RANGE_ALL);
    }

    /** {@code CMD_CFGI_CD}: the CD of ({@code sid}, {@code ssid}). */
    public static void cfgiCd(long[] out, int sid, int ssid, boolean leaf) {
        out[0] = OP_CFGI_CD | (long) (ssid & 0xfffff) << 12 | (sid & 0xffff_ffffL) << 32;
        out[1] = leaf ? 1 : 0;
    }

    public static void cfgiCdAll(long[] out, int sid) {
        out[0] = OP_CFGI_CD_ALL | (sid & 0xffff_ffffL) << 32;
        out[1] = 0;
    }

    public static void tlbiNhAll(long[] out, int vmid) {
        out[0] = OP_TLBI_NH_ALL | (long) (vmid & 0xffff) << 32;
        out[1] = 0;
    }

    public static void tlbiNhAsid(long[] out, int vmid, int asid) {
        out[0] = OP_TLBI_NH_ASID | (long) (vmid & 0xffff) << 32 | (long) (asid & 0xffff) << 48;
        out[1] = 0;
    }

    public static void tlbiS12Vmall(long[] out, int vmid) {
        out[0] = OP_TLBI_S12_VMALL | (long) (vmid & 0xffff) << 32;
        out[1] = 0;
    }

    public static void tlbiNsnhAll(long[] out) {
        out[0] = OP_TLBI_NSNH_ALL;
        out[1] = 0;
    }

    /**
     * {@code CMD_TLBI_NH_VA} / {@code TLBI_S2_IPA} / {@code TLBI_NH_VAA} with the range fields.
     *
     * @param tg 0 (no range), or the TLBI TG of the granule
     * @param ttl 0 or the leaf level hint (1..3)
     */
    public static void tlbiAddress(long[] out, int opcode, int vmid, int asid, long address, boolean leaf, int tg,
            int ttl, int scale, int num) {
        out[0] = opcode | (long) (num & 0x1f) << 12 | (long) (scale & 0x1f) << 20 | (long) (vmid & 0xffff) << 32
                | (opcode == OP_TLBI_NH_VA ? (long) (asid & 0xffff) << 48 : 0);
        long addrMask = opcode == OP_TLBI_S2_IPA ? BitField.mask(TLBI_IPA) : BitField.mask(TLBI_ADDR);
        out[1] = address & addrMask | (long) (tg & 3) << 10 | (long) (ttl & 3) << 8 | (leaf ? 1 : 0);
    }

    /** {@code CMD_ATC_INV} for a naturally aligned span of {@code 4K << size}. */
    public static void atcInv(long[] out, int sid, int ssid, boolean ssv, long address, int size) {
        out[0] = OP_ATC_INV | (ssv ? 1L << 11 : 0) | (long) (ssid & 0xfffff) << 12 | (sid & 0xffff_ffffL) << 32;
        out[1] = address & BitField.mask(ATC_ADDR) | (size & 0x3f);
    }

    public static void priResp(long[] out, int sid, int ssid, boolean ssv, int grpid, int resp) {
        out[0] = OP_PRI_RESP | (ssv ? 1L << 11 : 0) | (long) (ssid & 0xfffff) << 12 | (sid & 0xffff_ffffL) << 32;
        out[1] = (grpid & 0x1ff) | (long) (resp & 3) << 12;
    }

    public static void resume(long[] out, int sid, int stag, int resp) {
        out[0] = OP_RESUME | (long) (resp & 3) << 12 | (sid & 0xffff_ffffL) << 32;
        out[1] = stag & 0xffff;
    }

    /** {@code CMD_SYNC} with completion signalling {@code cs}; with CS=IRQ the SMMU writes {@code msiData} to {@code msiAddr}. */
    public static void sync(long[] out, int cs, long msiAddr, int msiData) {
        out[0] = OP_CMD_SYNC | (long) (cs & 3) << 12 | (cs == SYNC_CS_IRQ ? 3L << 22 | 0xfL << 24 : 0)
                | (msiData & 0xffff_ffffL) << 32;
        out[1] = msiAddr & BitField.mask(SYNC_MSIADDR);
    }

    public static int opcode(long dword0) {
        return (int) (dword0 & 0xff);
    }
}
