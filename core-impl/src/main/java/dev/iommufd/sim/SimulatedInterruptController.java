package dev.iommufd.sim;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.InterruptController;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.MsiVector;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * MSI vectors and their delivery.
 *
 * <h2>Message layout per profile</h2>
 * <pre>
 *   q35 (x86 compatibility-format MSI, Intel SDM Vol. 3 §11.11):
 *     address = 0xFEE0_0000 | destination APIC ID [19:12]      data = vector [7:0], 0x20..0xFF (0..0x1F are exceptions)
 *   virt (GICv3 ITS, QEMU virt places the ITS at 0x0808_0000; GITS_TRANSLATER is at +0x1_0040):
 *     address = 0x0809_0040                                    data = EventID
 *   pseries (sPAPR PHB MSI window, QEMU SPAPR_PCI_MSI_WINDOW):
 *     address = 0x400_0000_0000                                data = MSI number
 * </pre>
 * Vectors are numbered by a slot: on q35 slot {@code s} is APIC ID {@code s / 224}, vector {@code 0x20 + s % 224};
 * elsewhere the data is the slot. The lowest free slot is handed out first. At most {@link #MAX_VECTORS}.
 *
 * <p>Concurrency: allocation and free take this object's monitor; {@link #signal} reads the handler table (an
 * {@link AtomicReferenceArray}) without a lock, allocates nothing and runs the handler on the calling thread.
 */
public final class SimulatedInterruptController implements InterruptController {

    /** Slots available. */
    public static final int MAX_VECTORS = 4096;

    /** x86: the interrupt address window base (never translated by an IOMMU as DMA). */
    public static final long X86_MSI_BASE = 0xfee0_0000L;
    /** x86: first vector usable by devices. */
    public static final int X86_FIRST_VECTOR = 0x20;
    /** x86: vectors per destination APIC (0x20..0xff). */
    public static final int X86_VECTORS_PER_CPU = 0x100 - X86_FIRST_VECTOR;
    /** x86: destination APIC ID field, address bits [19:12]. */
    public static final int X86_DEST_ID_SHIFT = 12;
    /** Arm virt: GITS_TRANSLATER of the ITS at 0x0808_0000. */
    public static final long GITS_TRANSLATER = 0x0808_0000L + 0x1_0040L;
    /** pseries: the PHB's MSI window. */
    public static final long SPAPR_MSI_WINDOW = 0x400_0000_0000L;

    private static final class Entry {
        final MsiVector vector;
        final Runnable handler;

        Entry(MsiVector vector, Runnable handler) {
            this.vector = vector;
            this.handler = handler;
        }
    }

    private final MachineProfile profile;
    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(MAX_VECTORS);

    public SimulatedInterruptController(MachineProfile profile) {
        this.profile = Objects.requireNonNull(profile, "profile");
    }

    @Override
    public synchronized MsiVector allocate(String name, Runnable handler) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(handler, "handler");
        for (int s = 0; s < MAX_VECTORS; s++) {
            if (slots.get(s) == null) {
                MsiVector v = new MsiVector(addressOf(s), dataOf(s), name);
                slots.set(s, new Entry(v, handler));
                return v;
            }
        }
        throw ErrnoException.of(Errno.ENOSPC, "no free MSI vector for %s (%d in use)", name, MAX_VECTORS);
    }

    @Override
    public synchronized void free(MsiVector vector) {
        Objects.requireNonNull(vector, "vector");
        int s = slotOf(vector.address(), vector.data());
        Entry e = s < 0 ? null : slots.get(s);
        if (e == null || !e.vector.equals(vector)) {
            throw ErrnoException.of(Errno.EINVAL, "MSI vector %s (address %#x data %#x) is not allocated", vector.name(),
                    vector.address(), vector.data());
        }
        slots.set(s, null);
    }

    @Override
    public boolean signal(long address, int data) {
        int s = slotOf(address, data);
        if (s < 0) {
            return false;
        }
        Entry e = slots.get(s);
        if (e == null) {
            return false;
        }
        e.handler.run();
        return true;
    }

    /**
     * Whether a device write to physical address {@code pa} (after IOMMU translation) is an MSI doorbell: the ITS
     * {@code GITS_TRANSLATER} on virt, the PHB MSI window on pseries. On x86 MSIs are recognised before translation
     * (the interrupt window), so no physical address is a doorbell.
     */
    public boolean isDoorbell(long pa) {
        switch (profile) {
            case VIRT:
                return pa == GITS_TRANSLATER;
            case PSERIES:
                return pa == SPAPR_MSI_WINDOW;
            default:
                return false;
        }
    }

    private long addressOf(int slot) {
        switch (profile) {
            case Q35:
                return X86_MSI_BASE | ((long) (slot / X86_VECTORS_PER_CPU) << X86_DEST_ID_SHIFT);
            case VIRT:
                return GITS_TRANSLATER;
            default:
                return SPAPR_MSI_WINDOW;
        }
    }

    private int dataOf(int slot) {
        return profile == MachineProfile.Q35 ? X86_FIRST_VECTOR + slot % X86_VECTORS_PER_CPU : slot;
    }

    /** The slot an MSI write addresses, or -1 when it addresses none. */
    private int slotOf(long address, int data) {
        switch (profile) {
            case Q35: {
                if ((address & ~0xf_ffffL) != X86_MSI_BASE || (address & 0xfffL) != 0) {
                    return -1;
                }
                int vector = data & 0xff;
                if ((data & ~0xff) != 0 || vector < X86_FIRST_VECTOR) {
                    return -1;
                }
                long s = (address >>> X86_DEST_ID_SHIFT & 0xff) * X86_VECTORS_PER_CPU + (vector - X86_FIRST_VECTOR);
                return s < MAX_VECTORS ? (int) s : -1;
            }
            case VIRT:
                return address == GITS_TRANSLATER && data >= 0 && data < MAX_VECTORS ? data : -1;
            default:
                return address == SPAPR_MSI_WINDOW && data >= 0 && data < MAX_VECTORS ? data : -1;
        }
    }
}
