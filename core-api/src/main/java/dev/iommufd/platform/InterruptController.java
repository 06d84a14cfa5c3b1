package dev.iommufd.platform;

/**
 * The interrupt fabric. A driver allocates an MSI vector with a handler and programs the vector's address/data
 * into its unit's registers; the hardware model signals it by "writing" that message. Handlers run
 * synchronously on the signalling thread (a model must not hold its own locks while it signals).
 */
public interface InterruptController {

    /** Allocates a vector that runs {@code handler} when signalled. */
    MsiVector allocate(String name, Runnable handler);

    /** Frees a vector; later signals of it are dropped. */
    void free(MsiVector vector);

    /**
     * Delivers an MSI write.
     *
     * @return whether a handler was registered for that address/data
     */
    boolean signal(long address, int data);
}
