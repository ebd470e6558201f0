package systemd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// udev 252 has no `udevadm verify`, so the rules are checked here: a parser
// for the rule syntax of udev(7) and an evaluator for the subset of keys the
// file uses, run against the devices the rules are written for.

// keySpec says how a udev key may be used.
type keySpec struct {
	match, assign bool
	attr          int // 0: no {attribute}; 1: optional; 2: required
}

var udevKeys = map[string]keySpec{
	"ACTION": {match: true}, "DEVPATH": {match: true}, "KERNEL": {match: true},
	"KERNELS": {match: true}, "SUBSYSTEM": {match: true}, "SUBSYSTEMS": {match: true},
	"DRIVER": {match: true}, "DRIVERS": {match: true}, "TAGS": {match: true},
	"RESULT": {match: true}, "PROGRAM": {match: true},
	"ATTRS": {match: true, attr: 2}, "CONST": {match: true, attr: 2}, "TEST": {match: true, attr: 1},
	"NAME": {match: true, assign: true}, "SYMLINK": {match: true, assign: true}, "TAG": {match: true, assign: true},
	"ATTR": {match: true, assign: true, attr: 2}, "SYSCTL": {match: true, assign: true, attr: 2},
	"ENV":   {match: true, assign: true, attr: 2},
	"OWNER": {assign: true}, "GROUP": {assign: true}, "MODE": {assign: true}, "OPTIONS": {assign: true},
	"LABEL": {assign: true}, "GOTO": {assign: true},
	"SECLABEL": {assign: true, attr: 2}, "RUN": {assign: true, attr: 1}, "IMPORT": {assign: true, attr: 2},
}

// pair is one KEY{attr} op "value" of a rule.
type pair struct {
	key, attr, op, value string
}

func (p pair) String() string {
	k := p.key
	if p.attr != "" {
		k += "{" + p.attr + "}"
	}
	return fmt.Sprintf("%s%s%q", k, p.op, p.value)
}

type rule struct {
	line  int
	pairs []pair
}

var pairRE = regexp.MustCompile(`^([A-Z_]+)(?:\{([^{}"]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,?)\s*`)

// parseRules parses udev rules text: every logical line (a trailing
// backslash continues it) is empty, a comment, or comma-separated
// KEY[{attr}] op "value" pairs with keys and operators udev knows. GOTO
// targets must be labels further down.
func parseRules(text string) ([]rule, error) {
	var rules []rule
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + lines[i]
		}
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		r := rule{line: n}
		for s != "" {
			m := pairRE.FindStringSubmatch(s)
			if m == nil {
				return nil, fmt.Errorf("line %d: cannot parse %q", n, s)
			}
			p := pair{key: m[1], attr: m[2], op: m[3], value: m[4]}
			spec, ok := udevKeys[p.key]
			switch {
			case !ok:
				return nil, fmt.Errorf("line %d: unknown key %s", n, p.key)
			case spec.attr == 0 && p.attr != "":
				return nil, fmt.Errorf("line %d: %s takes no {attribute}", n, p.key)
			case spec.attr == 2 && p.attr == "":
				return nil, fmt.Errorf("line %d: %s needs an {attribute}", n, p.key)
			case (p.op == "==" || p.op == "!=") && !spec.match:
				return nil, fmt.Errorf("line %d: %s cannot be matched (%s)", n, p.key, p.op)
			case p.op != "==" && p.op != "!=" && !spec.assign:
				return nil, fmt.Errorf("line %d: %s cannot be assigned (%s)", n, p.key, p.op)
			case (p.key == "LABEL" || p.key == "GOTO" || p.key == "IMPORT") && p.op != "=":
				return nil, fmt.Errorf("line %d: %s takes only =", n, p.key)
			}
			r.pairs = append(r.pairs, p)
			s = s[len(m[0]):]
			switch {
			case m[5] == "" && s != "":
				return nil, fmt.Errorf("line %d: missing comma after %s", n, p)
			case m[5] != "" && s == "":
				return nil, fmt.Errorf("line %d: trailing comma after %s", n, p)
			}
		}
		rules = append(rules, r)
	}
	for i, r := range rules {
		for _, p := range r.pairs {
			if p.key != "GOTO" {
				continue
			}
			found := slices.ContainsFunc(rules[i+1:], func(r rule) bool {
				return slices.ContainsFunc(r.pairs, func(q pair) bool { return q.key == "LABEL" && q.value == p.value })
			})
			if !found {
				return nil, fmt.Errorf("line %d: GOTO %q has no LABEL after it", r.line, p.value)
			}
		}
	}
	return rules, nil
}

// device is what the evaluator knows of a device event: its own properties
// and, for ATTRS/SUBSYSTEMS, its ancestors.
type device struct {
	action, subsystem, kernel string
	env                       map[string]string
	parents                   []parent
}

type parent struct {
	subsystem string
	attrs     map[string]string
}

// outcome is what the rules did to a device.
type outcome struct {
	env           map[string]string
	group, mode   string
	symlinks      []string
	assignedGroup bool
}

// globMatch matches udev patterns: alternatives separated by |, each a shell glob.
func globMatch(pattern, value string) bool {
	for _, alt := range strings.Split(pattern, "|") {
		if ok, err := filepath.Match(alt, value); err == nil && ok {
			return true
		}
	}
	return false
}

var substRE = regexp.MustCompile(`\$env\{([^}]+)\}|[$%]`)

// subst expands $env{KEY}; any other substitution is refused, so that a rule
// using one is not silently judged wrong.
func subst(v string, env map[string]string) (string, error) {
	var err error
	out := substRE.ReplaceAllStringFunc(v, func(m string) string {
		if sm := substRE.FindStringSubmatch(m); sm[1] != "" {
			return env[sm[1]]
		}
		err = fmt.Errorf("substitution in %q is not supported by this evaluator", v)
		return m
	})
	return out, err
}

// evaluate runs the rules over d the way udev does for the keys handled:
// in order, a rule applies when all its match keys match (the parent keys
// all on one device of the chain), GOTO skips to its LABEL.
func evaluate(rules []rule, d device) (outcome, error) {
	env := map[string]string{}
	for k, v := range d.env {
		env[k] = v
	}
	o := outcome{env: env}
	for i := 0; i < len(rules); i++ {
		r := rules[i]
		ok := true
		var parentKeys []pair
		for _, p := range r.pairs {
			if p.op != "==" && p.op != "!=" {
				continue
			}
			var val string
			switch p.key {
			case "ACTION":
				val = d.action
			case "SUBSYSTEM":
				val = d.subsystem
			case "KERNEL":
				val = d.kernel
			case "ENV":
				val = env[p.attr]
			case "SUBSYSTEMS", "ATTRS":
				parentKeys = append(parentKeys, p)
				continue
			default:
				return o, fmt.Errorf("line %d: the evaluator does not handle %s", r.line, p)
			}
			if globMatch(p.value, val) != (p.op == "==") {
				ok = false
			}
		}
		if ok && len(parentKeys) > 0 {
			ok = slices.ContainsFunc(append([]parent{{subsystem: d.subsystem}}, d.parents...), func(pd parent) bool {
				for _, p := range parentKeys {
					val := pd.subsystem
					if p.key == "ATTRS" {
						val = pd.attrs[p.attr]
					}
					if globMatch(p.value, val) != (p.op == "==") {
						return false
					}
				}
				return true
			})
		}
		if !ok {
			continue
		}
		for _, p := range r.pairs {
			if p.op == "==" || p.op == "!=" {
				continue
			}
			v, err := subst(p.value, env)
			if err != nil {
				return o, fmt.Errorf("line %d: %w", r.line, err)
			}
			switch p.key {
			case "ENV":
				env[p.attr] = v
			case "GROUP":
				o.group, o.assignedGroup = v, true
			case "MODE":
				o.mode = v
			case "SYMLINK":
				o.symlinks = append(o.symlinks, v)
			case "LABEL":
			case "GOTO":
				j := slices.IndexFunc(rules[i+1:], func(r rule) bool {
					return slices.ContainsFunc(r.pairs, func(q pair) bool { return q.key == "LABEL" && q.value == v })
				})
				i += j // the loop's i++ lands on the label
			default:
				return o, fmt.Errorf("line %d: the evaluator does not handle %s", r.line, p)
			}
		}
	}
	return o, nil
}

// siteExample returns the example site rules that 90-mfagate.rules shows in
// its comments, as rule text.
func siteExample(t *testing.T, text string) string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if s, ok := strings.CutPrefix(l, "#   ENV{MFAGATE_MODEM}"); ok {
			out = append(out, "ENV{MFAGATE_MODEM}"+s)
		}
	}
	if len(out) == 0 {
		t.Fatal("90-mfagate.rules shows no example site rule (#   ENV{MFAGATE_MODEM}==…)")
	}
	return strings.Join(out, "\n")
}

const (
	portSocket3 = "pci-0000:00:14.0-usb-0:3:1.2"
	portSocket4 = "pci-0000:00:14.0-usb-0:4:1.2"
)

// usbTTY is a tty of a USB modem's interface as 60-serial.rules leaves it.
func usbTTY(kernel, vid, pid, iface, idPath string) device {
	return device{action: "add", subsystem: "tty", kernel: kernel,
		env: map[string]string{"ID_VENDOR_ID": vid, "ID_MODEL_ID": pid, "ID_USB_INTERFACE_NUM": iface, "ID_PATH": idPath},
		parents: []parent{
			{subsystem: "usb-serial"},
			{subsystem: "usb", attrs: map[string]string{"bInterfaceNumber": iface}},
			{subsystem: "usb", attrs: map[string]string{"idVendor": vid, "idProduct": pid}},
		}}
}

func TestUdevRules(t *testing.T) {
	data, err := os.ReadFile("90-mfagate.rules")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := parseRules(string(data))
	if err != nil {
		t.Fatalf("90-mfagate.rules: %v", err)
	}
	site, err := parseRules(string(data) + "\n" + siteExample(t, string(data)) + "\n")
	if err != nil {
		t.Fatalf("90-mfagate.rules with its example site rules: %v", err)
	}

	ec25net := device{action: "add", subsystem: "net", kernel: "wwan0", env: map[string]string{},
		parents: []parent{{subsystem: "usb", attrs: map[string]string{"bInterfaceNumber": "04"}},
			{subsystem: "usb", attrs: map[string]string{"idVendor": "2c7c", "idProduct": "0125"}}}}
	hidraw := func(fido bool) device {
		d := device{action: "add", subsystem: "hidraw", kernel: "hidraw0", env: map[string]string{},
			parents: []parent{{subsystem: "hid"}, {subsystem: "usb", attrs: map[string]string{"idVendor": "1050", "idProduct": "0407"}}}}
		if fido {
			d.env["ID_FIDO_TOKEN"] = "1"
			d.env["ID_SECURITY_TOKEN"] = "1"
		}
		return d
	}
	removed := usbTTY("ttyUSB2", "2c7c", "0125", "02", portSocket3)
	removed.action = "remove"

	tests := []struct {
		name       string
		rules      []rule
		dev        device
		symlinks   []string
		group      string // "" means the rules leave the group alone
		mmIgnore   bool
		modemModel string
	}{
		{"EC25 AT port", rules, usbTTY("ttyUSB2", "2c7c", "0125", "02", portSocket3),
			[]string{"mfagate/by-path/ec25-" + portSocket3}, "dialout", true, "ec25"},
		{"EC25 second AT/PPP port: ignored by ModemManager, not named", rules, usbTTY("ttyUSB3", "2c7c", "0125", "03", portSocket3),
			nil, "", true, ""},
		{"EC25 DIAG port", rules, usbTTY("ttyUSB0", "2c7c", "0125", "00", portSocket3), nil, "", true, ""},
		{"EC25 network interface", rules, ec25net, nil, "", true, ""},
		{"SIM7600 AT port", rules, usbTTY("ttyUSB6", "1e0e", "9001", "02", portSocket4),
			[]string{"mfagate/by-path/sim7600-" + portSocket4}, "dialout", true, "sim7600"},
		{"SIM7600 audio port", rules, usbTTY("ttyUSB8", "1e0e", "9001", "04", portSocket4), nil, "", true, ""},
		{"other USB serial adapter", rules, usbTTY("ttyUSB0", "0403", "6001", "00", "pci-0000:00:14.0-usb-0:1:1.0"), nil, "", false, ""},
		{"EC25 removed", rules, removed, nil, "", false, ""},
		{"FIDO key", rules, hidraw(true), nil, "mfagate", false, ""},
		{"other HID device", rules, hidraw(false), nil, "", false, ""},
		{"site rule names the EC25 in socket 3", site, usbTTY("ttyUSB2", "2c7c", "0125", "02", portSocket3),
			[]string{"mfagate/by-path/ec25-" + portSocket3, "mfagate/ec25-1"}, "dialout", true, "ec25"},
		{"site rule names the SIM7600 in socket 4", site, usbTTY("ttyUSB2", "1e0e", "9001", "02", portSocket4),
			[]string{"mfagate/by-path/sim7600-" + portSocket4, "mfagate/sim7600-1"}, "dialout", true, "sim7600"},
		{"site rule: an EC25 in another socket keeps only its by-path name", site, usbTTY("ttyUSB2", "2c7c", "0125", "02", portSocket4),
			[]string{"mfagate/by-path/ec25-" + portSocket4}, "dialout", true, "ec25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := evaluate(tt.rules, tt.dev)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.symlinks, tt.symlinks) {
				t.Errorf("symlinks = %q, want %q", o.symlinks, tt.symlinks)
			}
			if o.group != tt.group {
				t.Errorf("group = %q, want %q", o.group, tt.group)
			}
			if o.assignedGroup && o.mode != "0660" {
				t.Errorf("mode = %q, want 0660 with group %s", o.mode, o.group)
			}
			if got := o.env["ID_MM_DEVICE_IGNORE"] == "1"; got != tt.mmIgnore {
				t.Errorf("ID_MM_DEVICE_IGNORE=1 is %v, want %v", got, tt.mmIgnore)
			}
			if o.env["MFAGATE_MODEM"] != tt.modemModel {
				t.Errorf("MFAGATE_MODEM = %q, want %q", o.env["MFAGATE_MODEM"], tt.modemModel)
			}
		})
	}
}

// The parser refuses what udev would reject or misread.
func TestParseRulesRejects(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"unknown key", `SUBSYTEM=="tty", GROUP="dialout"`, "unknown key SUBSYTEM"},
		{"unquoted value", `SUBSYSTEM==tty`, "cannot parse"},
		{"missing comma", `SUBSYSTEM=="tty" GROUP="dialout"`, "missing comma"},
		{"trailing comma", `SUBSYSTEM=="tty", GROUP="dialout",`, "trailing comma"},
		{"assigning a match-only key", `KERNEL="ttyUSB0"`, "cannot be assigned"},
		{"matching an assign-only key", `GROUP=="dialout"`, "cannot be matched"},
		{"ENV without a name", `ENV=="1"`, "needs an {attribute}"},
		{"GOTO without its label", "GOTO=\"x_end\"\nLABEL=\"other\"", `GOTO "x_end" has no LABEL`},
		{"label before its GOTO", "LABEL=\"x_end\"\nGOTO=\"x_end\"", `GOTO "x_end" has no LABEL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRules(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRules(%q) = %v, want an error containing %q", tt.text, err, tt.want)
			}
		})
	}
	if _, err := parseRules("# comment\n\nSUBSYSTEM==\"tty\", \\\n  GROUP=\"dialout\"\n"); err != nil {
		t.Errorf("continued line: %v", err)
	}
}
