package dev.iommufd.tck;

import java.util.List;

/** The outcome of a TCK run over one or more drivers. */
public record TckResult(List<DriverReport> drivers) {

    public TckResult {
        drivers = List.copyOf(drivers);
    }

    public long passed() {
        return drivers.stream().mapToLong(d -> d.count(RuleOutcome.Status.PASSED)).sum();
    }

    public long failed() {
        return drivers.stream().mapToLong(d -> d.count(RuleOutcome.Status.FAILED)).sum();
    }

    public long skipped() {
        return drivers.stream().mapToLong(d -> d.count(RuleOutcome.Status.SKIPPED)).sum();
    }

    public long requiredFailures() {
        return drivers.stream().mapToLong(DriverReport::requiredFailures).sum();
    }

    /** 0 when no REQUIRED rule failed on any driver, else 1. */
    public int exitCode() {
        return requiredFailures() == 0 ? 0 : 1;
    }

    /** The closing line: {@code N passed, N failed, N skipped}. */
    public String summaryLine() {
        return passed() + " passed, " + failed() + " failed, " + skipped() + " skipped";
    }

    /** The report of one driver. */
    public DriverReport driver(String id) {
        for (DriverReport d : drivers) {
            if (d.id().equals(id)) {
                return d;
            }
        }
        throw new IllegalArgumentException("no report for driver " + id);
    }
}
