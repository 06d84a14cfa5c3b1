package dev.iommufd.cli;

import dev.iommufd.spi.hw.DecodedNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Draws a page-table tree as SVG: one box per table (a {@link DecodedNode.Kind#TABLE} node), listing its present
 * entries, with an arrow from each table entry to the table it points at; tables of one level stand in one
 * column. The tree is taken as the decoder reported it from the snapshot's memory.
 */
final class PageTableSvg {
    static final int COLUMN_WIDTH = 430;
    static final int LINE = 16;
    static final int GAP = 14;
    static final int MAX_ROWS = 24;

    private record Box(DecodedNode table, int column, int x, int y, int height, List<DecodedNode> rows) {
    }

    private final List<Box> boxes = new ArrayList<>();
    private final List<int[]> arrows = new ArrayList<>();
    private final int[] columnBottom = new int[16];

    private PageTableSvg() {
    }

    /** An SVG picture of every page-table tree under {@code device} (a decoder's device group). */
    static String render(String title, DecodedNode device) {
        PageTableSvg svg = new PageTableSvg();
        for (int i = 0; i < svg.columnBottom.length; i++) {
            svg.columnBottom[i] = 40;
        }
        for (DecodedNode c : device.children()) {
            if (c.kind() == DecodedNode.Kind.TABLE) {
                svg.place(c, 0);
            }
        }
        return svg.draw(title);
    }

    private int[] place(DecodedNode table, int column) {
        List<DecodedNode> rows = new ArrayList<>();
        for (DecodedNode c : table.children()) {
            if (c.kind() == DecodedNode.Kind.ENTRY || c.kind() == DecodedNode.Kind.PROBLEM) {
                rows.add(c);
            }
        }
        int shown = Math.min(rows.size(), MAX_ROWS);
        int height = LINE * (2 + shown + (rows.size() > shown ? 1 : 0)) + 6;
        int col = Math.min(column, columnBottom.length - 1);
        int x = 20 + col * (COLUMN_WIDTH + 60);
        int y = columnBottom[col];
        columnBottom[col] = y + height + GAP;
        Box box = new Box(table, col, x, y, height, rows);
        boxes.add(box);
        for (int i = 0; i < shown; i++) {
            DecodedNode e = rows.get(i);
            for (DecodedNode child : e.children()) {
                if (child.kind() == DecodedNode.Kind.TABLE) {
                    int[] target = place(child, column + 1);
                    arrows.add(new int[] {x + COLUMN_WIDTH, y + LINE * (2 + i) + 2, target[0], target[1] + LINE / 2 + 4});
                }
            }
        }
        return new int[] {x, y};
    }

    private String draw(String title) {
        int width = 40;
        int height = 60;
        for (Box b : boxes) {
            width = Math.max(width, b.x() + COLUMN_WIDTH + 20);
            height = Math.max(height, b.y() + b.height() + 20);
        }
        StringBuilder s = new StringBuilder();
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.append(String.format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " font-family=\"monospace\" font-size=\"11\">%n", width, height, width, height));
        s.append("  <defs><marker id=\"arrow\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" refY=\"4\" orient=\"auto\">"
                + "<path d=\"M0,0 L8,4 L0,8 z\" fill=\"#555\"/></marker></defs>\n");
        s.append("  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append(String.format("  <text x=\"20\" y=\"24\" font-size=\"14\" font-weight=\"bold\">%s</text>%n", esc(title)));
        if (boxes.isEmpty()) {
            s.append("  <text x=\"20\" y=\"50\">no page table: the device's configuration does not translate</text>\n");
        }
        for (Box b : boxes) {
            s.append(String.format("  <g class=\"table\" data-address=\"%#x\">%n", b.table().address()));
            s.append(String.format("    <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eef4ff\" stroke=\"#335\"/>%n",
                    b.x(), b.y(), COLUMN_WIDTH, b.height()));
            s.append(String.format("    <text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s @ %#x</text>%n", b.x() + 6,
                    b.y() + LINE, esc(b.table().name()), b.table().address()));
            int shown = Math.min(b.rows().size(), MAX_ROWS);
            for (int i = 0; i < shown; i++) {
                DecodedNode e = b.rows().get(i);
                String text = e.kind() == DecodedNode.Kind.PROBLEM ? "! " + e.meaning() : e.name() + " " + e.meaning();
                s.append(String.format("    <text x=\"%d\" y=\"%d\">%s</text>%n", b.x() + 6, b.y() + LINE * (2 + i),
                        esc(text.length() > 66 ? text.substring(0, 65) + "…" : text)));
            }
            if (b.rows().size() > shown) {
                s.append(String.format("    <text x=\"%d\" y=\"%d\">… %d more entries</text>%n", b.x() + 6,
                        b.y() + LINE * (2 + shown), b.rows().size() - shown));
            }
            s.append("  </g>\n");
        }
        for (int[] a : arrows) {
            s.append(String.format("  <line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>%n",
                    a[0], a[1], a[2], a[3]));
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String esc(String t) {
        return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
