package dev.iommufd.smmuv3.layout;

import static dev.iommufd.smmuv3.layout.BitField.bit;
import static dev.iommufd.smmuv3.layout.BitField.range;

/**
 * PRI queue records: 16 bytes, two little-endian dwords (IHI0070 8.1, Linux {@code PRIQ_*}).
 *
 * <pre>
 * dword 0
 *  63     62    61    60   59   58    51:32        31:0
 * +------+----+-----+----+----+-----+------------+----------+
 * |SSID_V|Last|Write|Read|Exec|Priv | SubstreamID| StreamID |
 * +------+----+-----+----+----+-----+------------+----------+
 * dword 1
 *  63:12           8:0
 * +---------------+------+--------+
 * | Address[63:12]| RES0 |PRGIndex|
 * +---------------+------+--------+
 * </pre>
 */
public final class PageRequestRecord {
    private PageRequestRecord() {
    }

    public static final int SIZE = 16;
    public static final int DWORDS = 2;

    public static final long SID = range(0, 31, 0);
    public static final long SSID = range(0, 51, 32);
    public static final long PERM_PRIV = bit(0, 58);
    public static final long PERM_EXEC = bit(0, 59);
    public static final long PERM_READ = bit(0, 60);
    public static final long PERM_WRITE = bit(0, 61);
    public static final long LAST = bit(0, 62);
    public static final long SSID_V = bit(0, 63);
    public static final long PRG_INDEX = range(1, 8, 0);
    public static final long ADDR = range(1, 63, 12);
}
