package dev.iommufd.spi;

import java.util.Arrays;

/**
 * Copy-on-write arrays for the sets a driver reads on its hot paths without locking (the masters or cache tags
 * a domain flushes, the nested children of a parent): the set lives in a {@code volatile T[]} field that is
 * replaced whole, under the owner's lock, by the array these methods return, so a reader iterates one immutable
 * snapshot by index with no lock, no iterator and no allocation.
 *
 * <p>Contract: the argument array is never modified; every method that changes the set returns a new array
 * (of the same runtime component type), or the argument itself when there is nothing to change. Elements are
 * compared by identity ({@code ==}), as a driver compares its own objects. Null arrays are not accepted.
 */
public final class CopyOnWriteArrays {
    private CopyOnWriteArrays() {
    }

    /** The index of the first element of {@code array} that is {@code element} ({@code ==}), or -1. */
    public static int indexOf(Object[] array, Object element) {
        for (int i = 0; i < array.length; i++) {
            if (array[i] == element) {
                return i;
            }
        }
        return -1;
    }

    /** A new array: {@code array} followed by {@code element} (appended even when already present). */
    public static <T> T[] appended(T[] array, T element) {
        T[] n = Arrays.copyOf(array, array.length + 1);
        n[array.length] = element;
        return n;
    }

    /**
     * A new array: {@code array} without its element at {@code index}, the others in their order.
     *
     * @throws ArrayIndexOutOfBoundsException if {@code index} is not an index of {@code array}
     */
    public static <T> T[] removedAt(T[] array, int index) {
        if (index < 0 || index >= array.length) {
            throw new ArrayIndexOutOfBoundsException("index " + index + " of an array of " + array.length);
        }
        T[] n = Arrays.copyOf(array, array.length - 1);
        System.arraycopy(array, index + 1, n, index, array.length - index - 1);
        return n;
    }

    /**
     * {@code array} without the first element that is {@code element} ({@code ==}): a new array when it was
     * present, {@code array} itself when it was not.
     */
    public static <T> T[] removed(T[] array, T element) {
        int i = indexOf(array, element);
        return i < 0 ? array : removedAt(array, i);
    }
}
