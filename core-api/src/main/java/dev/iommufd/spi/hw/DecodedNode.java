package dev.iommufd.spi.hw;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * One decoded item of a hardware structure, as a {@link StructureDecoder} reports it: a structure (a table, an
 * entry, a register) or one of its fields, with its raw value and what the value means. Structures nest: a root
 * table holds root entries, a root entry points at a context table, and so on down to the page-table leaves.
 *
 * <p>A node whose {@link #kind()} is {@link Kind#TABLE} is one table in memory (its {@link #address()} is the
 * table's physical address); its {@link Kind#ENTRY} children are the present entries. Pictures of a page-table
 * tree are drawn from these two kinds only.
 *
 * <p>Mutable while the decoder builds it (children are appended); read-only afterwards by convention.
 */
public final class DecodedNode {
    /** What a node stands for. */
    public enum Kind {
        /** A group without a value of its own (the decode of one unit, one device's walk). */
        GROUP,
        /** A register. */
        REGISTER,
        /** A table in memory ({@link #address()} is its base). */
        TABLE,
        /** An entry of a table ({@link #address()} is the entry's address). */
        ENTRY,
        /** A field of a register or entry ({@link #value()} is the field's value, shifted down). */
        FIELD,
        /** Something the decoder could not decode (a frame missing from the snapshot, a reserved encoding). */
        PROBLEM
    }

    /** No address. */
    public static final long NO_ADDRESS = -1L;

    private final Kind kind;
    private final String name;
    private final long address;
    private final long value;
    private final boolean hasValue;
    private final String meaning;
    private final List<DecodedNode> children = new ArrayList<>();

    private DecodedNode(Kind kind, String name, long address, long value, boolean hasValue, String meaning) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.name = Objects.requireNonNull(name, "name");
        this.address = address;
        this.value = value;
        this.hasValue = hasValue;
        this.meaning = meaning == null ? "" : meaning;
    }

    public static DecodedNode group(String name, String meaning) {
        return new DecodedNode(Kind.GROUP, name, NO_ADDRESS, 0, false, meaning);
    }

    public static DecodedNode register(String name, long offset, long value) {
        return new DecodedNode(Kind.REGISTER, name, offset, value, true, "");
    }

    public static DecodedNode table(String name, long address, String meaning) {
        return new DecodedNode(Kind.TABLE, name, address, 0, false, meaning);
    }

    /** An entry at {@code address} whose raw value is {@code value} (the low 64 bits for a wider entry). */
    public static DecodedNode entry(String name, long address, long value, String meaning) {
        return new DecodedNode(Kind.ENTRY, name, address, value, true, meaning);
    }

    public static DecodedNode field(String name, long value, String meaning) {
        return new DecodedNode(Kind.FIELD, name, NO_ADDRESS, value, true, meaning);
    }

    public static DecodedNode problem(String name, String meaning) {
        return new DecodedNode(Kind.PROBLEM, name, NO_ADDRESS, 0, false, meaning);
    }

    /** Appends {@code child} and returns it. */
    public DecodedNode add(DecodedNode child) {
        children.add(Objects.requireNonNull(child));
        return child;
    }

    /** Appends a field and returns this node (for chaining). */
    public DecodedNode field(String fieldName, long fieldValue) {
        children.add(field(fieldName, fieldValue, ""));
        return this;
    }

    public Kind kind() {
        return kind;
    }

    /** The architecture's name for the structure or field ({@code RTADDR_REG}, {@code SLPTPTR}, {@code STE[4]}). */
    public String name() {
        return name;
    }

    /** The physical address of a table or entry, the offset of a register, else {@link #NO_ADDRESS}. */
    public long address() {
        return address;
    }

    /** Whether {@link #value()} is meaningful. */
    public boolean hasValue() {
        return hasValue;
    }

    public long value() {
        return value;
    }

    /** What the value means, in words ({@code "present, 4-level (48-bit) second-stage table"}); may be empty. */
    public String meaning() {
        return meaning;
    }

    public List<DecodedNode> children() {
        return Collections.unmodifiableList(children);
    }

    /** The first child called {@code childName}, or null. */
    public DecodedNode child(String childName) {
        for (DecodedNode c : children) {
            if (c.name.equals(childName)) {
                return c;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return kind + " " + name + (hasValue ? "=0x" + Long.toHexString(value) : "")
                + (meaning.isEmpty() ? "" : " (" + meaning + ")");
    }
}
