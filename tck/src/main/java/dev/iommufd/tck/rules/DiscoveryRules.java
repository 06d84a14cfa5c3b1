package dev.iommufd.tck.rules;

import static dev.iommufd.tck.Area.DISCOVERY;

import dev.iommufd.api.Errno;
import dev.iommufd.drivers.DriverCatalog;
import dev.iommufd.platform.MachineConfig;
import dev.iommufd.platform.MachineProfile;
import dev.iommufd.platform.PciFunction;
import dev.iommufd.sim.SimulatedMachine;
import dev.iommufd.spi.Availability;
import dev.iommufd.spi.Capability;
import dev.iommufd.spi.DeviceHandle;
import dev.iommufd.spi.IommuDriver;
import dev.iommufd.spi.IommuDriverProvider;
import dev.iommufd.spi.SpiVersion;
import dev.iommufd.spi.hw.IommuUnitModel;
import dev.iommufd.tck.Rule;
import dev.iommufd.tck.RuleViolation;
import dev.iommufd.tck.fixture.ForeignFunction;
import dev.iommufd.tck.fixture.TckFixture;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** DISC: how a driver is found, identifies itself, probes, binds and lets go. */
final class DiscoveryRules {
    private DiscoveryRules() {
    }

    static List<Rule> rules() {
        return List.of(
                Rule.required("DISC-1", DISCOVERY,
                        "The provider is found by ServiceLoader (DriverCatalog) under its id, and its id matches ID_PATTERN.",
                        "IommuDriverProvider javadoc rule 1; DriverCatalog", DiscoveryRules::serviceLoader),
                Rule.required("DISC-2", DISCOVERY,
                        "spiVersion() equals SpiVersion.CURRENT; version() is not blank.",
                        "IommuDriverProvider javadoc rule 2; SpiVersion", f -> {
                            Expect.that(f.provider().spiVersion() == SpiVersion.CURRENT,
                                    "spiVersion() is %d but this TCK checks SPI version %d: rebuild the driver against this core-api",
                                    f.provider().spiVersion(), SpiVersion.CURRENT);
                            String v = f.provider().version();
                            Expect.that(v != null && !v.isBlank(), "version() must name the driver's version, got '%s'", v);
                        }),
                Rule.required("DISC-3", DISCOVERY,
                        "capabilities() is a non-null, stable set that contains PAGING; hardwareModels() is non-empty.",
                        "IommuDriverProvider javadoc rule 3; Capability.PAGING ('every real driver'); include/linux/iommu.h domain_alloc_paging",
                        f -> {
                            Set<Capability> caps = f.provider().capabilities();
                            Expect.that(caps != null, "capabilities() returned null");
                            Expect.that(caps.equals(f.provider().capabilities()),
                                    "capabilities() must return the same set every time (got %s then %s)", caps, f.provider().capabilities());
                            Expect.that(caps.contains(Capability.PAGING),
                                    "capabilities() %s lacks PAGING: every driver must offer paging domains (domain_alloc_paging)", caps);
                            Expect.that(!f.provider().hardwareModels().isEmpty(), "hardwareModels() is empty: name the model ids the driver drives");
                        }),
                Rule.required("DISC-4", DISCOVERY,
                        "The driver declares a reference machine that builds, has a unit of one of hardwareModels(), "
                                + "and probe() reports it available.",
                        "IommuDriverProvider.referenceMachine(), probe()", DiscoveryRules::referenceMachine),
                Rule.required("DISC-5", DISCOVERY,
                        "probe() on a machine without the driver's units reports unavailable with a reason (never throws); "
                                + "bind() there fails with ENODEV.",
                        "IommuDriverProvider.probe/bind javadoc; drivers/iommu/intel/dmar.c (no DRHD: -ENODEV)",
                        DiscoveryRules::noUnit),
                Rule.required("DISC-6", DISCOVERY,
                        "A bound driver reports its provider and the names of the units it initialised, each a unit of one of "
                                + "hardwareModels() on the machine.",
                        "IommuDriver.provider()/units()", DiscoveryRules::boundIdentity),
                Rule.required("DISC-7", DISCOVERY,
                        "probeDevice() takes every function behind the driver's units and returns a handle naming that function "
                                + "and the driver, with 0 <= maxPasidLog2 <= the function's PASID width.",
                        "include/linux/iommu.h probe_device; dev->iommu->max_pasids (drivers/iommu/iommu.c dev_iommu_get_max_pasids)",
                        DiscoveryRules::probeAll),
                Rule.required("DISC-8", DISCOVERY,
                        "probeDevice() of a function behind a unit the driver does not own fails with ENODEV.",
                        "include/linux/iommu.h probe_device ('-ENODEV: not my device'); drivers/iommu/iommu.c __iommu_probe_device",
                        f -> Expect.errno(Errno.ENODEV, "probeDevice(function behind unit '" + ForeignFunction.UNIT + "')",
                                "probe_device must refuse functions that are not behind one of its units (check function.iommuUnit())",
                                () -> f.driver().probeDevice(new ForeignFunction()))),
                Rule.required("DISC-9", DISCOVERY,
                        "bind() then releaseDevice() and close() give back every frame the driver allocated.",
                        "IommuDriver.close javadoc ('releases ... all driver memory')", DiscoveryRules::closeFreesAll));
    }

    private static void serviceLoader(TckFixture f) {
        IommuDriverProvider p = f.provider();
        Expect.that(p.id() != null && IommuDriverProvider.ID_PATTERN.matcher(p.id()).matches(),
                "id() '%s' does not match %s", p.id(), IommuDriverProvider.ID_PATTERN.pattern());
        DriverCatalog catalog;
        try {
            catalog = DriverCatalog.load(p.getClass().getClassLoader());
        } catch (RuntimeException e) {
            throw new RuleViolation("driver discovery fails on the class path of " + p.getClass().getName() + ": " + e, e);
        }
        Expect.that(catalog.ids().contains(p.id()),
                "ServiceLoader does not find driver '%s' (found %s): register %s with @AutoService(IommuDriverProvider.class) "
                        + "or META-INF/services/dev.iommufd.spi.IommuDriverProvider",
                p.id(), catalog.ids(), p.getClass().getName());
        Expect.that(catalog.get(p.id()).getClass() == p.getClass(),
                "the provider ServiceLoader finds under id '%s' is %s, not %s", p.id(), catalog.get(p.id()).getClass().getName(),
                p.getClass().getName());
    }

    private static void referenceMachine(TckFixture f) {
        if (f.target().machine() == null) {
            throw new RuleViolation("driver '" + f.provider().id() + "' declares no reference machine: implement "
                    + "IommuDriverProvider.referenceMachine() (its unit, a preset, a few PCI functions incl. PASID/PRI ones), "
                    + "or override machineConfig() in your IommuDriverContractTest");
        }
        SimulatedMachine m = f.machine();
        boolean found = false;
        for (IommuUnitModel u : m.iommuUnits()) {
            found |= f.provider().hardwareModels().contains(u.model());
        }
        Expect.that(found, "the reference machine has no unit of the driver's hardware models %s", f.provider().hardwareModels());
        Availability a = f.provider().probe(m);
        Expect.that(a != null && a.available(), "probe() on the reference machine says unavailable: %s",
                a == null ? "null" : a.reason());
        Expect.that(!f.functions().isEmpty(), "the reference machine has no PCI function behind the driver's units");
    }

    private static void noUnit(TckFixture f) {
        MachineProfile profile = f.machineConfig().profile();
        try (SimulatedMachine bare = SimulatedMachine.create(MachineConfig.builder(profile).ramSize(64L << 20).build())) {
            Availability a;
            try {
                a = f.provider().probe(bare);
            } catch (RuntimeException e) {
                throw new RuleViolation("probe() threw " + e + " on a machine without the driver's units; it must return "
                        + "Availability.no(reason) instead", e);
            }
            Expect.that(a != null && !a.available() && !a.reason().isBlank(),
                    "probe() on a %s machine without IOMMU units must report unavailable with a reason, got %s", profile.id(), a);
            Expect.errno(Errno.ENODEV, "bind() on a machine without the driver's units",
                    "bind must refuse a machine with no unit of hardwareModels()", () -> f.provider().bind(f.contextFor(bare)));
        }
    }

    private static void boundIdentity(TckFixture f) {
        IommuDriver d = f.driver();
        Expect.that(d.provider() == f.provider(), "driver.provider() is %s, not the provider that bound it", d.provider());
        List<String> units = d.units();
        Expect.that(units != null && !units.isEmpty(), "driver.units() is empty after bind: list the units initialised");
        for (String u : units) {
            IommuUnitModel unit;
            try {
                unit = f.machine().iommuUnit(u);
            } catch (RuntimeException e) {
                throw new RuleViolation("driver.units() names '" + u + "', which is not a unit of the machine");
            }
            Expect.that(f.provider().hardwareModels().contains(unit.model()),
                    "driver.units() names %s of model %s, not one of hardwareModels() %s", u, unit.model(), f.provider().hardwareModels());
        }
    }

    private static void probeAll(TckFixture f) {
        List<PciFunction> fs = f.functions();
        Expect.that(!fs.isEmpty(), "the reference machine has no PCI function behind the driver's units");
        for (PciFunction fn : fs) {
            DeviceHandle h = f.probe(fn);
            Expect.that(h.function() == fn, "probeDevice(%s).function() is %s, not the function probed", fn.address(), h.function());
            Expect.that(h.driver() == f.driver(), "probeDevice(%s).driver() is %s, not the bound driver", fn.address(), h.driver());
            Expect.that(h.maxPasidLog2() >= 0 && h.maxPasidLog2() <= fn.pasidBits(),
                    "probeDevice(%s).maxPasidLog2() is %d but the function has %d PASID bits (max_pasids is min(device, IOMMU))",
                    fn.address(), h.maxPasidLog2(), fn.pasidBits());
        }
    }

    private static void closeFreesAll(TckFixture f) {
        SimulatedMachine m = f.machine();
        long before = m.memory().frames().allocatedFrames();
        IommuDriver d = f.provider().bind(f.contextFor(m));
        List<DeviceHandle> hs = new ArrayList<>();
        for (PciFunction fn : f.functions()) {
            hs.add(d.probeDevice(fn));
        }
        for (DeviceHandle h : hs) {
            d.releaseDevice(h);
        }
        d.close();
        long after = m.memory().frames().allocatedFrames();
        Expect.that(after == before, "after bind, probe, release and close, %d frames are still allocated (before bind: %d, "
                + "after close: %d): close() must free root tables, queues and per-device tables", after - before, before, after);
    }
}
