package dev.iommufd.smmuv3.layout;

import static dev.iommufd.smmuv3.layout.BitField.bit;
import static dev.iommufd.smmuv3.layout.BitField.range;

/**
 * Event queue records: 32 bytes, four little-endian dwords (IHI0070 7.3, Linux {@code EVTQ_*}).
 *
 * <pre>
 * dword 0                                 dword 1
 *  63:32     31:12        11   7:0         44     41:40  39  36    35   34   33    31     15:0
 * +--------+------------+----+------+     +-----+------+---+-----+----+----+----+------+------+
 * |StreamID|SubstreamID |SSV |  ID  |     |TTRnW|CLASS |S2 |NSIPA|RnW |InD |PnU |Stall | STAG |
 * +--------+------------+----+------+     +-----+------+---+-----+----+----+----+------+------+
 * dword 2: InputAddr[63:0]
 * dword 3: IPA[55:12] (stage-2 faults) or FetchAddr[55:3] (fetch aborts)
 * </pre>
 */
public final class EventRecord {
    private EventRecord() {
    }

    public static final int SIZE = 32;
    public static final int DWORDS = 4;

    public static final int F_UUT = 0x01;
    public static final int C_BAD_STREAMID = 0x02;
    public static final int F_STE_FETCH = 0x03;
    public static final int C_BAD_STE = 0x04;
    public static final int F_BAD_ATS_TREQ = 0x05;
    public static final int F_STREAM_DISABLED = 0x06;
    public static final int F_TRANSL_FORBIDDEN = 0x07;
    public static final int C_BAD_SUBSTREAMID = 0x08;
    public static final int F_CD_FETCH = 0x09;
    public static final int C_BAD_CD = 0x0a;
    public static final int F_WALK_EABT = 0x0b;
    public static final int F_TRANSLATION = 0x10;
    public static final int F_ADDR_SIZE = 0x11;
    public static final int F_ACCESS = 0x12;
    public static final int F_PERMISSION = 0x13;
    public static final int F_TLB_CONFLICT = 0x20;
    public static final int F_CFG_CONFLICT = 0x21;
    public static final int E_PAGE_REQUEST = 0x24;
    public static final int F_VMS_FETCH = 0x25;

    public static final long ID = range(0, 7, 0);
    public static final long SSV = bit(0, 11);
    public static final long SSID = range(0, 31, 12);
    public static final long SID = range(0, 63, 32);
    public static final long STAG = range(1, 15, 0);
    public static final long STALL = bit(1, 31);
    public static final long PNU = bit(1, 33);
    public static final long IND = bit(1, 34);
    public static final long RNW = bit(1, 35);
    public static final long S2 = bit(1, 39);
    public static final long CLASS = range(1, 41, 40);
    public static final long TTRNW = bit(1, 44);
    public static final long INPUT_ADDR = range(2, 63, 0);
    /** IPA[55:12] in place. */
    public static final long IPA = range(3, 55, 12);
    /** FetchAddr[55:3] in place. */
    public static final long FETCH_ADDR = range(3, 55, 3);

    public static final int CLASS_CD = 0;
    public static final int CLASS_TT = 1;
    public static final int CLASS_IN = 2;

    /** The event IDs iommufd forwards to a vEVENTQ (arm_vmaster_report_event). */
    public static boolean forwardedToVeventq(int id) {
        return id == C_BAD_STE || id == F_STREAM_DISABLED || id == C_BAD_SUBSTREAMID || id == C_BAD_CD
                || (id >= F_TRANSLATION && id <= F_PERMISSION);
    }

    /** The name Linux's {@code event_str} table uses. */
    public static String name(int id) {
        switch (id) {
            case F_UUT: return "F_UUT";
            case C_BAD_STREAMID: return "C_BAD_STREAMID";
            case F_STE_FETCH: return "F_STE_FETCH";
            case C_BAD_STE: return "C_BAD_STE";
            case F_BAD_ATS_TREQ: return "F_BAD_ATS_TREQ";
            case F_STREAM_DISABLED: return "F_STREAM_DISABLED";
            case F_TRANSL_FORBIDDEN: return "F_TRANSL_FORBIDDEN";
            case C_BAD_SUBSTREAMID: return "C_BAD_SUBSTREAMID";
            case F_CD_FETCH: return "F_CD_FETCH";
            case C_BAD_CD: return "C_BAD_CD";
            case F_WALK_EABT: return "F_WALK_EABT";
            case F_TRANSLATION: return "F_TRANSLATION";
            case F_ADDR_SIZE: return "F_ADDR_SIZE";
            case F_ACCESS: return "F_ACCESS";
            case F_PERMISSION: return "F_PERMISSION";
            case F_TLB_CONFLICT: return "F_TLB_CONFLICT";
            case F_CFG_CONFLICT: return "F_CFG_CONFLICT";
            case E_PAGE_REQUEST: return "E_PAGE_REQUEST";
            case F_VMS_FETCH: return "F_VMS_FETCH";
            default: return String.format("UNKNOWN(%#x)", id);
        }
    }
}
