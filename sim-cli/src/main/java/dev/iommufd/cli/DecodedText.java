package dev.iommufd.cli;

import dev.iommufd.spi.hw.DecodedNode;
import java.io.PrintStream;

/**
 * Prints a {@link DecodedNode} tree as indented text: structures on their own line with address, raw value and
 * meaning; the plain fields of a structure together on the next line ({@code R=1 W=1 ADDR=0x3}, values below 10
 * in decimal, others in hexadecimal); fields whose value has a meaning on a line each ({@code TT = 0x0 (...)}).
 */
final class DecodedText {
    private DecodedText() {
    }

    /** The fields of {@code node} on one line: {@code SID=0x20 FR=6 (reason) T=1}. */
    static String inlineFields(DecodedNode node) {
        StringBuilder b = new StringBuilder();
        for (DecodedNode c : node.children()) {
            if (c.kind() == DecodedNode.Kind.FIELD) {
                b.append(b.length() == 0 ? "" : " ").append(c.name()).append('=').append(value(c.value()))
                        .append(c.meaning().isEmpty() ? "" : " (" + c.meaning() + ")");
            }
        }
        return b.toString();
    }

    private static String value(long v) {
        return v < 10 && v >= 0 ? Long.toString(v) : "0x" + Long.toHexString(v);
    }

    static void print(DecodedNode node, PrintStream out) {
        print(node, out, 0);
    }

    private static void print(DecodedNode n, PrintStream out, int depth) {
        String indent = "  ".repeat(depth);
        StringBuilder b = new StringBuilder(indent);
        switch (n.kind()) {
            case GROUP -> b.append(n.name()).append(n.meaning().isEmpty() ? "" : " (" + n.meaning() + ")").append(':');
            case REGISTER -> b.append(n.name()).append(String.format(" [+%#x] = %#x", n.address(), n.value()));
            case TABLE -> b.append(n.name()).append(String.format(" @ %#x", n.address()))
                    .append(n.meaning().isEmpty() ? "" : ": " + n.meaning());
            case ENTRY -> b.append(n.name()).append(String.format(" @ %#x = %#018x", n.address(), n.value()))
                    .append(n.meaning().isEmpty() ? "" : ": " + n.meaning());
            case FIELD -> b.append(n.name()).append(String.format(" = %#x", n.value()))
                    .append(n.meaning().isEmpty() ? "" : " (" + n.meaning() + ")");
            case PROBLEM -> b.append("! ").append(n.name()).append(": ").append(n.meaning());
            default -> b.append(n);
        }
        out.println(b);
        StringBuilder plain = new StringBuilder();
        for (DecodedNode c : n.children()) {
            if (c.kind() == DecodedNode.Kind.FIELD && c.meaning().isEmpty() && c.children().isEmpty()) {
                plain.append(plain.length() == 0 ? "" : " ").append(c.name()).append('=')
                        .append(c.value() < 10 && c.value() >= 0 ? Long.toString(c.value()) : "0x" + Long.toHexString(c.value()));
            }
        }
        if (plain.length() > 0) {
            out.println(indent + "  " + plain);
        }
        for (DecodedNode c : n.children()) {
            if (!(c.kind() == DecodedNode.Kind.FIELD && c.meaning().isEmpty() && c.children().isEmpty())) {
                print(c, out, depth + 1);
            }
        }
    }
}
