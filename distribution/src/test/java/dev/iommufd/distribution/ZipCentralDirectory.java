package dev.iommufd.distribution;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Unix file modes that a zip's central directory records (java.util.zip does not expose them): the high 16
 * bits of each entry's "external file attributes" when "version made by" names Unix (PKWARE APPNOTE 4.4.2,
 * 4.4.15). Enough for archives without zip64 or a comment longer than the search window.
 */
final class ZipCentralDirectory {
    private static final int END_SIGNATURE = 0x06054b50;
    private static final int ENTRY_SIGNATURE = 0x02014b50;
    private static final int HOST_UNIX = 3;

    private ZipCentralDirectory() {
    }

    /** Entry name to Unix mode ({@code 0} when the entry was not made on Unix). */
    static Map<String, Integer> unixModes(Path zip) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(zip)).order(ByteOrder.LITTLE_ENDIAN);
        int end = -1;
        for (int i = b.limit() - 22; i >= Math.max(0, b.limit() - 22 - 0xffff); i--) {
            if (b.getInt(i) == END_SIGNATURE) {
                end = i;
                break;
            }
        }
        if (end < 0) {
            throw new IOException(zip + ": no end of central directory record");
        }
        int entries = Short.toUnsignedInt(b.getShort(end + 10));
        int offset = b.getInt(end + 16);
        Map<String, Integer> modes = new LinkedHashMap<>();
        int p = offset;
        for (int n = 0; n < entries; n++) {
            if (b.getInt(p) != ENTRY_SIGNATURE) {
                throw new IOException(zip + ": central directory entry " + n + " has no signature");
            }
            int madeBy = Short.toUnsignedInt(b.getShort(p + 4));
            int nameLength = Short.toUnsignedInt(b.getShort(p + 28));
            int extraLength = Short.toUnsignedInt(b.getShort(p + 30));
            int commentLength = Short.toUnsignedInt(b.getShort(p + 32));
            int external = b.getInt(p + 38);
            byte[] name = new byte[nameLength];
            b.get(p + 46, name);
            modes.put(new String(name, StandardCharsets.UTF_8), (madeBy >>> 8) == HOST_UNIX ? (external >>> 16) & 07777 : 0);
            p += 46 + nameLength + extraLength + commentLength;
        }
        return modes;
    }
}
