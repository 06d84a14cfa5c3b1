package dev.iommufd.cli;

import java.io.PrintStream;
import java.util.Objects;

/**
 * Where a command writes: results to {@code out}, diagnostics to {@code err}.
 *
 * @param out standard output
 * @param err standard error
 */
record Terminal(PrintStream out, PrintStream err) {
    Terminal {
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(err, "err");
    }
}
