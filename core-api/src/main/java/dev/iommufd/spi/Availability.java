package dev.iommufd.spi;

import java.util.Objects;

/**
 * Whether a provider can run here, and if not, why. The cause is kept so that {@code iommufd-sim drivers} and
 * the TCK report can show it.
 *
 * @param available whether the provider is usable
 * @param reason a sentence for the user when unavailable, empty when available
 * @param cause the underlying exception, or {@code null}
 */
public record Availability(boolean available, String reason, Throwable cause) {

    public Availability {
        Objects.requireNonNull(reason, "reason");
    }

    public static Availability yes() {
        return new Availability(true, "", null);
    }

    public static Availability no(String reason) {
        return new Availability(false, reason, null);
    }

    public static Availability no(String reason, Throwable cause) {
        return new Availability(false, reason, cause);
    }
}
