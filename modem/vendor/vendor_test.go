package vendor_test

import (
	"slices"
	"testing"

	"mfagate/config"
	"mfagate/modem/driver"
	"mfagate/modem/sim"
	"mfagate/modem/vendor"
)

// Every family in the list is accepted by the configuration, has a driver
// profile and a simulator personality; the driver knows no others.
func TestEveryFamilyIsSupportedEverywhere(t *testing.T) {
	for i, name := range vendor.Names {
		t.Run(name, func(t *testing.T) {
			c := config.Default()
			c.Modems = []config.Modem{{ID: "dev", Port: "/dev/mfagate/dev", Profile: name}, {ID: "sim", Port: "sim:" + name}}
			if err := c.Validate(); err != nil {
				t.Errorf("config refuses profile %q: %v", name, err)
			}
			if _, err := driver.ProfileByName(name); err != nil {
				t.Errorf("driver: %v", err)
			}
			m, err := sim.Start(t.Context(), sim.Options{Profile: name, Network: sim.NewNetwork(sim.NetworkOptions{}),
				IMEI: "86000000000000" + string(rune('0'+i)), LinkDir: t.TempDir(), LinkName: "tty"})
			if err != nil {
				t.Fatalf("simulator: %v", err)
			}
			defer m.Close()
			if m.Profile() != name {
				t.Errorf("simulator started %q for %q", m.Profile(), name)
			}
		})
	}
	if got, want := driver.ProfileNames(), slices.Sorted(slices.Values(vendor.Names)); !slices.Equal(got, want) {
		t.Errorf("driver profiles %v, want exactly %v", got, want)
	}
	c := config.Default()
	c.Modems = []config.Modem{{ID: "dev", Port: "/dev/mfagate/dev", Profile: "nokia"}}
	if err := c.Validate(); err == nil {
		t.Error("config accepts a profile outside the list")
	}
}
