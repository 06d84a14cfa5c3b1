package dev.iommufd.snapshot;

/** A snapshot document that is not valid JSON or not a valid {@code iommufd-sim.snapshot/1}; the message says where. */
public final class SnapshotFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SnapshotFormatException(String message) {
        super(message);
    }
}
