package dev.iommufd.tck.rules;

import dev.iommufd.api.Errno;
import dev.iommufd.api.ErrnoException;
import dev.iommufd.platform.DmaStatus;
import dev.iommufd.tck.RuleViolation;
import java.util.Arrays;
import java.util.function.Supplier;

/** The checks rule bodies use. Every failure message says what was expected, what happened and what to check. */
public final class Expect {
    private Expect() {
    }

    /** Fails with {@code message} (formatted) unless {@code condition}. */
    public static void that(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new RuleViolation(String.format(format, args));
        }
    }

    /** Fails unless {@code actual == expected}. */
    public static void equal(long expected, long actual, String what, String hint) {
        if (expected != actual) {
            throw new RuleViolation(String.format("%s: expected %#x, got %#x. %s", what, expected, actual, hint));
        }
    }

    /** Fails unless {@code op} throws an {@link ErrnoException} with {@code errno}; returns it. */
    public static ErrnoException errno(Errno errno, String operation, String hint, Runnable op) {
        try {
            op.run();
        } catch (ErrnoException e) {
            if (e.errno() != errno) {
                throw new RuleViolation(String.format("%s must fail with %s but failed with %s (\"%s\"). %s", operation,
                        errno, e.errno(), e.getMessage(), hint), e);
            }
            return e;
        } catch (RuntimeException e) {
            throw new RuleViolation(String.format("%s must fail with ErrnoException(%s) but threw %s. %s", operation, errno,
                    e, hint), e);
        }
        throw new RuleViolation(String.format("%s must fail with %s but succeeded. %s", operation, errno, hint));
    }

    /** Fails unless {@code op} throws an {@link ErrnoException} with one of {@code allowed}; returns it. */
    public static ErrnoException errnoIn(java.util.Set<Errno> allowed, String operation, String hint, Runnable op) {
        try {
            op.run();
        } catch (ErrnoException e) {
            if (!allowed.contains(e.errno())) {
                throw new RuleViolation(String.format("%s must fail with one of %s but failed with %s (\"%s\"). %s", operation,
                        allowed, e.errno(), e.getMessage(), hint), e);
            }
            return e;
        } catch (RuntimeException e) {
            throw new RuleViolation(String.format("%s must fail with ErrnoException(%s) but threw %s. %s", operation, allowed, e,
                    hint), e);
        }
        throw new RuleViolation(String.format("%s must fail with %s but succeeded. %s", operation, allowed, hint));
    }

    /** Fails unless {@code op} completes; an ErrnoException becomes a violation naming the operation. */
    public static <T> T works(String operation, String hint, Supplier<T> op) {
        try {
            return op.get();
        } catch (ErrnoException e) {
            throw new RuleViolation(String.format("%s must succeed but failed with %s (\"%s\"). %s", operation, e.errno(),
                    e.getMessage(), hint), e);
        }
    }

    /** {@link #works} for operations without a result. */
    public static void runs(String operation, String hint, Runnable op) {
        works(operation, hint, () -> {
            op.run();
            return null;
        });
    }

    /** Fails unless a DMA ended with {@code expected}. */
    public static void dma(DmaStatus expected, DmaStatus actual, String what, String hint) {
        if (expected != actual) {
            throw new RuleViolation(String.format("%s: the device saw %s, expected %s. %s", what, actual, expected, hint));
        }
    }

    /** Fails unless the two byte arrays are equal. */
    public static void bytes(byte[] expected, byte[] actual, String what, String hint) {
        if (!Arrays.equals(expected, actual)) {
            int i = Arrays.mismatch(expected, actual);
            throw new RuleViolation(String.format("%s: data differs at byte %d (expected %#04x, got %#04x). %s", what, i,
                    expected[i] & 0xff, actual[i] & 0xff, hint));
        }
    }
}
