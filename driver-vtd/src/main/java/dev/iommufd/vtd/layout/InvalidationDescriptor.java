package dev.iommufd.vtd.layout;

/**
 * Queued-invalidation descriptors (VT-d spec 6.5.2): 128 bits (qwords 0, 1) or, with IQA.DW = 1, 256 bits
 * (qwords 2, 3 must be zero except in a page group response). The type is {@code qw0[3:0] | qw0[11:9] << 4}.
 *
 * <pre>
 *  1 context-cache invalidate
 *   63   50 49 48 47        32 31        16 15  12 11  9 8  6  5  4  3    0
 *  +-------+-----+------------+------------+------+-----+----+----+-------+
 *  | rsvd  | FM  |    SID     |    DID     | rsvd |  0  |rsvd|  G | 0001  |   qw0;  qw1 reserved
 *  +-------+-----+------------+------------+------+-----+----+----+-------+
 *  2 IOTLB invalidate
 *   63             32 31        16 15  12 11  9  8   7    6    5 4  3    0
 *  +-----------------+------------+------+-----+----+----+----+-----+------+
 *  |      rsvd       |    DID     | rsvd |  0  |rsvd| DR | DW |  G  | 0010 |   qw0
 *  +-----------------+------------+------+-----+----+----+----+-----+------+
 *   63                              12 11    7   6   5     0
 *  +----------------------------------+-------+----+-------+
 *  |             ADDR                 | rsvd  | IH |  AM   |                    qw1 (also types 6)
 *  +----------------------------------+-------+----+-------+
 *  3 device-TLB invalidate
 *   63     52 51  48 47      32 31   21 20   16 15    12 11 9 8   4  3    0
 *  +---------+------+----------+-------+-------+--------+----+-----+------+
 *  |PFSID 15:4| rsvd |   SID    | rsvd  |  MIP  |PFSID3:0| 0  |rsvd | 0011 |  qw0
 *  +---------+------+----------+-------+-------+--------+----+-----+------+
 *   63                              12 11              1   0
 *  +----------------------------------+-----------------+---+
 *  |             ADDR                 |      rsvd       | S |                  qw1
 *  +----------------------------------+-----------------+---+
 *  5 invalidation wait
 *   63                32 31      12 11  9  8   7    6    5    4   3    0
 *  +--------------------+----------+-----+----+----+----+----+----+------+
 *  |    STATUS DATA     |   rsvd   |  0  |rsvd| PD | FN | SW | IF | 0101 |   qw0
 *  +--------------------+----------+-----+----+----+----+----+----+------+
 *  |                  STATUS ADDRESS [63:2]                   | rsvd    |   qw1
 *  +-----------------------------------------------------------+---------+
 *  6 PASID-based IOTLB invalidate / 7 PASID-cache invalidate
 *   63   52 51            32 31        16 15  12 11  9 8  6  5  4  3    0
 *  +-------+----------------+------------+------+-----+----+----+-------+
 *  | rsvd  |     PASID      |    DID     | rsvd |  0  |rsvd|  G | type  |    qw0 (7: qw1 reserved)
 *  +-------+----------------+------------+------+-----+----+----+-------+
 *  8 PASID-based device-TLB invalidate
 *   63     52 51          32 31      16 15     12 11 9 8     4  3    0
 *  +---------+--------------+----------+---------+----+-------+------+
 *  |PFSID15:4|    PASID     |   SID    |PFSID 3:0|  0 | QDEP  | 1000 |       qw0
 *  +---------+--------------+----------+---------+----+-------+------+
 *   63                              12 11  10            1   0
 *  +----------------------------------+---+---------------+---+
 *  |             ADDR                 | S |     rsvd      | G |            qw1
 *  +----------------------------------+---+---------------+---+
 *  9 page group response (256-bit only)
 *   63  52 51          32 31        16 15    12 11  9 8  6  5    4    3    0
 *  +------+--------------+------------+--------+-----+----+----+----+------+
 *  | rsvd |    PASID     |    RID     |RESPCODE|  0  |rsvd| PDP| P  | 1001 |   qw0
 *  +------+--------------+------------+--------+-----+----+----+----+------+
 *   63                              12 11          3   2   1  0
 *  +----------------------------------+-------------+------+-----+
 *  |              rsvd                |  PRG index  | LPIG | rsvd|         qw1;  qw2, qw3: private data
 *  +----------------------------------+-------------+------+-----+
 * </pre>
 *
 * Device-TLB sizes (types 3 and 8): with S = 0 the request covers one 4 KiB page; with S = 1 the lowest zero
 * bit of ADDR at position {@code k >= 12} encodes a range of {@code 2^(k+1)} bytes (ATS encoding).
 */
public final class InvalidationDescriptor {
    private InvalidationDescriptor() {
    }

    public static final int TYPE_CONTEXT_CACHE = 1;
    public static final int TYPE_IOTLB = 2;
    public static final int TYPE_DEVICE_TLB = 3;
    public static final int TYPE_INTERRUPT_ENTRY_CACHE = 4;
    public static final int TYPE_WAIT = 5;
    public static final int TYPE_PASID_IOTLB = 6;
    public static final int TYPE_PASID_CACHE = 7;
    public static final int TYPE_PASID_DEVICE_TLB = 8;
    public static final int TYPE_PAGE_GROUP_RESPONSE = 9;

    /** Granularity (G) of types 1 and 2: global. */
    public static final int G_GLOBAL = 1;
    /** Granularity of types 1 and 2: domain-selective. */
    public static final int G_DOMAIN = 2;
    /** Granularity of type 1: device-selective; of type 2: page-selective within a domain. */
    public static final int G_DEVICE_OR_PAGE = 3;
    /** Type 6 granularity: all mappings of (DID, PASID). */
    public static final int PIOTLB_G_PASID = 2;
    /** Type 6 granularity: page-selective within (DID, PASID). */
    public static final int PIOTLB_G_PAGE = 3;
    /** Type 7 granularity: domain-selective. */
    public static final int PC_G_DOMAIN = 0;
    /** Type 7 granularity: PASID-selective within a domain. */
    public static final int PC_G_PASID = 1;
    /** Type 7 granularity: global. */
    public static final int PC_G_GLOBAL = 3;

    public static final int G_SHIFT = 4;
    public static final int DID_SHIFT = 16;
    public static final int SID_SHIFT = 32;
    public static final int FM_SHIFT = 48;
    public static final int PASID_SHIFT = 32;
    public static final long IOTLB_DW = 1L << 6;
    public static final long IOTLB_DR = 1L << 7;
    public static final long IH = 1L << 6;
    public static final long WAIT_IF = 1L << 4;
    public static final long WAIT_SW = 1L << 5;
    public static final long WAIT_FN = 1L << 6;
    public static final long WAIT_PD = 1L << 7;
    public static final int WAIT_STATUS_SHIFT = 32;
    public static final long DEVTLB_S = 1L;
    public static final long PDEVTLB_G = 1L;
    public static final long PDEVTLB_S = 1L << 11;
    public static final int PDEVTLB_SID_SHIFT = 16;
    public static final int DEVTLB_MIP_SHIFT = 16;
    public static final int PDEVTLB_QDEP_SHIFT = 4;
    public static final long PGRP_PASID_P = 1L << 4;
    public static final long PGRP_PDP = 1L << 5;
    public static final int PGRP_RESP_SHIFT = 12;
    public static final int PGRP_RID_SHIFT = 16;
    public static final long PGRP_LPIG = 1L << 2;
    public static final int PGRP_INDEX_SHIFT = 3;
    /** Page group response codes. */
    public static final int RESP_SUCCESS = 0;
    public static final int RESP_INVALID = 1;
    public static final int RESP_FAILURE = 0xf;

    /** Reserved bits of qword 0 / qword 1 per type (PFSID fields are reserved without ECAP.DIT, PD without ECAP.PDS). */
    public static final long RSVD_CC_LO = 0xfffc_0000_0000_f1c0L;
    public static final long RSVD_IOTLB_LO = 0xffff_ffff_0000_f100L;
    public static final long RSVD_IOTLB_HI = 0xf80L;
    public static final long RSVD_DEVTLB_LO = 0xffff_0000_ffe0_f1f0L;
    public static final long RSVD_DEVTLB_LO_DIT = 0x000f_0000_ffe0_01f0L;
    public static final long RSVD_DEVTLB_HI = 0xffeL;
    public static final long RSVD_WAIT_LO = 0xffff_f180L;
    public static final long RSVD_WAIT_LO_PDS = 0xffff_f100L;
    public static final long RSVD_WAIT_HI = 0x3L;
    public static final long RSVD_PIOTLB_LO = 0xfff0_0000_0000_f1c0L;
    public static final long RSVD_PIOTLB_HI = 0xf80L;
    public static final long RSVD_PC_LO = 0xfff0_0000_0000_f1c0L;
    public static final long RSVD_PDEVTLB_LO = 0xfff0_0000_0000_f000L;
    public static final long RSVD_PDEVTLB_LO_DIT = 0L;
    public static final long RSVD_PDEVTLB_HI = 0x7feL;
    public static final long RSVD_PGRP_LO = 0xfff0_0000_0000_01c0L;
    public static final long RSVD_PGRP_HI = 0xffff_ffff_ffff_f003L;

    public static int type(long qw0) {
        return (int) ((qw0 & 0xf) | ((qw0 >>> 9) & 0x7) << 4);
    }

    public static int granularity(long qw0) {
        return (int) Bits.get(qw0, G_SHIFT, 2);
    }

    public static int did(long qw0) {
        return (int) Bits.get(qw0, DID_SHIFT, 16);
    }

    public static int pasid(long qw0) {
        return (int) Bits.get(qw0, PASID_SHIFT, 20);
    }

    /** Address field (qwords 1 of types 2, 3, 6, 8). */
    public static long address(long qw1) {
        return qw1 & ~0xfffL;
    }

    public static int am(long qw1) {
        return (int) Bits.get(qw1, 0, 6);
    }

    // ---- encoders (Linux qi_flush_* equivalents) ----

    public static long contextCache(int g, int did, int sid, int fm) {
        return TYPE_CONTEXT_CACHE | Bits.put(g, G_SHIFT, 2) | Bits.put(did, DID_SHIFT, 16) | Bits.put(sid, SID_SHIFT, 16)
                | Bits.put(fm, FM_SHIFT, 2);
    }

    public static long iotlbLo(int g, int did) {
        return TYPE_IOTLB | Bits.put(g, G_SHIFT, 2) | IOTLB_DR | IOTLB_DW | Bits.put(did, DID_SHIFT, 16);
    }

    public static long addressHi(long addr, boolean ih, int am) {
        return (addr & ~0xfffL) | (ih ? IH : 0) | Bits.put(am, 0, 6);
    }

    public static long deviceTlbLo(int sid, int qdep, int pfsid) {
        return TYPE_DEVICE_TLB | Bits.put(sid, SID_SHIFT, 16) | Bits.put(qdep, DEVTLB_MIP_SHIFT, 5)
                | Bits.put(pfsid & 0xf, 12, 4) | Bits.put(pfsid >>> 4, 52, 12);
    }

    /**
     * The qword 1 of a device-TLB invalidation of {@code 2^mask} pages at {@code addr} (Linux
     * {@code qi_flush_dev_iotlb}): one page with S = 0, else the trailing-ones size encoding with S = 1.
     */
    public static long deviceTlbHi(long addr, int mask) {
        if (mask == 0) {
            return addr & ~0xfffL;
        }
        return ((addr & ~0xfffL) | ((1L << (12 + mask - 1)) - 1)) & ~0xfffL | DEVTLB_S;
    }

    public static long waitLo(boolean interrupt, boolean statusWrite, boolean fence, int statusData) {
        return TYPE_WAIT | (interrupt ? WAIT_IF : 0) | (statusWrite ? WAIT_SW : 0) | (fence ? WAIT_FN : 0)
                | Bits.put(statusData, WAIT_STATUS_SHIFT, 32);
    }

    public static long pasidIotlbLo(int g, int did, int pasid) {
        return TYPE_PASID_IOTLB | Bits.put(g, G_SHIFT, 2) | Bits.put(did, DID_SHIFT, 16) | Bits.put(pasid, PASID_SHIFT, 20);
    }

    public static long pasidCache(int g, int did, int pasid) {
        return TYPE_PASID_CACHE | Bits.put(g, G_SHIFT, 2) | Bits.put(did, DID_SHIFT, 16) | Bits.put(pasid, PASID_SHIFT, 20);
    }

    public static long pasidDeviceTlbLo(int sid, int pasid, int qdep, int pfsid) {
        return TYPE_PASID_DEVICE_TLB | Bits.put(qdep, PDEVTLB_QDEP_SHIFT, 5) | Bits.put(sid, PDEVTLB_SID_SHIFT, 16)
                | Bits.put(pasid, PASID_SHIFT, 20) | Bits.put(pfsid & 0xf, 12, 4) | Bits.put(pfsid >>> 4, 52, 12);
    }

    /** qword 1 of a PASID-based device-TLB invalidation; {@code mask < 0} asks for the global (all PASIDs) form. */
    public static long pasidDeviceTlbHi(long addr, int mask, boolean global) {
        long hi = global ? PDEVTLB_G : 0;
        if (mask <= 0) {
            return hi | (addr & ~0xfffL);
        }
        return hi | (((addr & ~0xfffL) | ((1L << (12 + mask - 1)) - 1)) & ~0xfffL) | PDEVTLB_S;
    }

    public static long pageGroupResponseLo(int rid, int pasid, boolean pasidPresent, int responseCode) {
        return TYPE_PAGE_GROUP_RESPONSE | (pasidPresent ? PGRP_PASID_P : 0) | Bits.put(responseCode, PGRP_RESP_SHIFT, 4)
                | Bits.put(rid, PGRP_RID_SHIFT, 16) | Bits.put(pasid, PASID_SHIFT, 20);
    }

    public static long pageGroupResponseHi(int prgIndex, boolean lastPage) {
        return Bits.put(prgIndex, PGRP_INDEX_SHIFT, 9) | (lastPage ? PGRP_LPIG : 0);
    }

    /**
     * The byte range of a device-TLB invalidation's qword 1 (types 3 and 8): with S clear one 4 KiB page,
     * with S set {@code 2^(k+1)} bytes where {@code k} is the position of the lowest zero address bit at or
     * above 12. Returns log2 of the size in bytes.
     */
    public static int deviceTlbSizeLog2(long hi, long sBit) {
        if ((hi & sBit) == 0) {
            return 12;
        }
        long a = hi | 0xfffL;
        int k = Long.numberOfTrailingZeros(~a);
        return Math.min(64, k + 1);
    }
}
