package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// Channels and baud take their defaults in each [[modem]] entry that leaves
// them out, whether the entries are sections or an inline array, and only
// there: an entry's own values are kept.
func TestModemDefaultsPerEntry(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"sections", `
[[modem]]
id = "a"
port = "/dev/mfagate/a"
profile = "quectel"

[[modem]]
id = "b"
port = "/dev/mfagate/b"
profile = "simcom"
channels = ["voice"]
baud = 9600

[[modem]]
id = "c"
port = "sim:huawei"
daily_cap = 200
`},
		{"inline", `modem = [
  { id = "a", port = "/dev/mfagate/a", profile = "quectel" },
  { id = "b", port = "/dev/mfagate/b", profile = "simcom", channels = ["voice"], baud = 9600 },
  { id = "c", port = "sim:huawei", daily_cap = 200 },
]
`},
	}
	want := []Modem{
		{ID: "a", Port: "/dev/mfagate/a", Profile: "quectel", Channels: []string{"sms", "voice"}, Baud: 115200},
		{ID: "b", Port: "/dev/mfagate/b", Profile: "simcom", Channels: []string{"voice"}, Baud: 9600},
		{ID: "c", Port: "sim:huawei", Profile: "huawei", Channels: []string{"sms", "voice"}, DailyCap: 200, Baud: 115200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.src), "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Modems, want) {
				t.Errorf("modems:\n got %+v\nwant %+v", c.Modems, want)
			}
			// Entries do not share the default channel list.
			c.Modems[0].Channels[0] = "changed"
			if c.Modems[2].Channels[0] != "sms" || Default().Modems != nil {
				t.Error("modem entries share their default channels")
			}
		})
	}
}

// Written zero values are not mistaken for left-out keys.
func TestModemWrittenZeroIsNotDefault(t *testing.T) {
	src := "[[modem]]\nid = \"a\"\nport = \"sim:quectel\"\nchannels = []\nbaud = 0\n"
	_, err := Parse([]byte(src), "")
	var keys []string
	for _, p := range Problems(err) {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "modem[0].channels modem[0].baud"; got != want {
		t.Errorf("problems %q, want %q:\n%v", got, want, err)
	}
}

func TestModemSimPorts(t *testing.T) {
	// A simulated port implies its profile; the same profile may be given.
	// Each "sim:" entry runs its own simulator, so two may name the same one.
	src := `
[[modem]]
id = "sim-1"
port = "sim:quectel"

[[modem]]
id = "sim-2"
port = "sim:quectel"
profile = "quectel"

[[modem]]
id = "sim-3"
port = "sim:generic"
profile = ""
channels = ["sms"]
`
	c, err := Parse([]byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"quectel", "quectel", "generic"} {
		m := c.Modems[i]
		p, ok := m.SimProfile()
		if !ok || p != want || m.Profile != want {
			t.Errorf("modem %s: SimProfile() = %q, %v and Profile %q; want %q, true and %q", m.ID, p, ok, m.Profile, want, want)
		}
	}
}

func TestModemSimProfile(t *testing.T) {
	tests := []struct {
		port    string
		profile string
		sim     bool
	}{
		{"sim:quectel", "quectel", true},
		{"sim:", "", true},
		{"sim:nokia", "nokia", true},
		{"/dev/mfagate/ec25-1", "", false},
		{"/dev/sim:quectel", "", false},
		{"SIM:quectel", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		p, ok := Modem{Port: tt.port}.SimProfile()
		if p != tt.profile || ok != tt.sim {
			t.Errorf("SimProfile(%q) = %q, %v; want %q, %v", tt.port, p, ok, tt.profile, tt.sim)
		}
	}
}

// Duplicate ids and device ports name both entries, whatever else is wrong.
func TestModemDuplicates(t *testing.T) {
	src := `[[modem]]
id = "ec25-1"
port = "/dev/mfagate/ec25-1"
profile = "quectel"

[[modem]]
id = "ec25-2"
port = "/dev/mfagate/ec25-2"
profile = "quectel"

[[modem]]
id = "ec25-1"
port = "/dev/mfagate/../mfagate/ec25-2"
profile = "quectel"
`
	_, err := Parse([]byte(src), "")
	want := `line 12: modem[2].id = "ec25-1": is already the id of modem[0]; modem ids must be unique
line 13: modem[2].port = "/dev/mfagate/../mfagate/ec25-2": is already the port of modem[1]; each modem needs a port of its own`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

// The voice timeouts accept their whole range, bounds included.
func TestVoiceRanges(t *testing.T) {
	for _, v := range []string{"5s", "30s", "2m"} {
		src := "[voice]\nring_timeout = \"" + v + "\"\ninput_timeout = \"" + v + "\"\n"
		c, err := Parse([]byte(src), "")
		if err != nil {
			t.Errorf("%s refused: %v", v, err)
			continue
		}
		d, _ := time.ParseDuration(v)
		if c.Voice.RingTimeout.Duration != d || c.Voice.InputTimeout.Duration != d {
			t.Errorf("%s decoded as %v, %v", v, c.Voice.RingTimeout, c.Voice.InputTimeout)
		}
	}
	for _, v := range []string{"4.9s", "2m1s", "-30s"} {
		_, err := Parse([]byte("[voice]\nring_timeout = \""+v+"\"\ninput_timeout = \""+v+"\"\n"), "")
		if ps := Problems(err); len(ps) != 2 || ps[0].Key != "voice.ring_timeout" || ps[1].Key != "voice.input_timeout" || ps[1].Line != 3 {
			t.Errorf("%s: got %v, want problems for both keys", v, err)
		}
	}
}

// Modems built in Go get the defaults from Validate, as a file's entries get
// them from Parse; non-nil empty channels are an error, as channels = [] is.
func TestValidateModemsDirect(t *testing.T) {
	c := Default()
	c.Modems = []Modem{
		{ID: "ec25-1", Port: "/dev/mfagate/ec25-1", Profile: "quectel", DailyCap: 180},
		{ID: "demo", Port: "sim:simcom"},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Modem{
		{ID: "ec25-1", Port: "/dev/mfagate/ec25-1", Profile: "quectel", Channels: []string{"sms", "voice"}, DailyCap: 180, Baud: 115200},
		{ID: "demo", Port: "sim:simcom", Profile: "simcom", Channels: []string{"sms", "voice"}, Baud: 115200},
	}
	if !reflect.DeepEqual(c.Modems, want) {
		t.Errorf("after Validate:\n got %+v\nwant %+v", c.Modems, want)
	}

	c.Modems = []Modem{{ID: "a", Port: "/dev/mfagate/a", Profile: "quectel", Channels: []string{}, Baud: 300}}
	var keys []string
	for _, p := range Problems(c.Validate()) {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "modem[0].channels modem[0].baud"; got != want {
		t.Errorf("problem keys = %q, want %q", got, want)
	}
}

// A single [modem] table where entries belong says how to write them.
func TestModemNotArray(t *testing.T) {
	_, err := Parse([]byte("[modem]\nid = \"a\"\nport = \"sim:quectel\"\n"), "")
	want := "line 1: modem = {…}: must be an array of tables: write [[modem]] before each one"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestVoicePromptFiles(t *testing.T) {
	c, err := Parse([]byte("[voice]\nprompt_file_ja = \"UFS:prompt_ja.wav\"\n"), "")
	if err != nil || c.Voice.PromptFileJA != "UFS:prompt_ja.wav" || c.Voice.PromptFileEN != "" {
		t.Fatalf("%+v %v", c.Voice, err)
	}
	_, err = Parse([]byte("[voice]\nprompt_file_en = \"a\\\"b\"\n"), "")
	if err == nil || !strings.Contains(err.Error(), "voice.prompt_file_en") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad prompt file: %v", err)
	}
}
