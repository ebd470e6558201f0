package systemd

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// maxExposure is the highest overall exposure `systemd-analyze security`
// may give the unit.
const maxExposure = 1.5

// stageInstall runs `make install` into a new DESTDIR and returns it.
func stageInstall(t *testing.T, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dest := t.TempDir()
	stageInstallInto(t, dest, vars...)
	return dest
}

// stageInstallInto runs `make install DESTDIR=dest vars...`.
func stageInstallInto(t *testing.T, dest string, vars ...string) {
	t.Helper()
	args := append([]string{"-C", "..", "--no-print-directory", "install",
		"DESTDIR=" + dest, "INSTALL_BUILDDIR=" + t.TempDir()}, vars...)
	out, err := makeCommand(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// makeCommand runs make on its own, not as part of a make that runs the
// tests (`make test`), whose job server and variables it must not inherit.
func makeCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("make", args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func checkFile(t *testing.T, path string, mode fs.FileMode, same string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want a regular file with mode %04o", path, fi.Mode(), mode)
	}
	if same == "" {
		return
	}
	got, err := os.ReadFile(path)
	want, err2 := os.ReadFile(same)
	if err != nil || err2 != nil || !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (%v, %v)", path, same, err, err2)
	}
}

// TestInstall stages the installation and checks it: every file in place
// with its mode, the unit accepted by systemd-analyze verify and scored by
// systemd-analyze security, the sysusers.d and tmpfiles.d entries applied
// by systemd's own tools to the staged tree.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon; skipped in -short mode")
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd); the unit cannot be checked")
	}
	dest := stageInstall(t, "PREFIX=/usr")
	unit := filepath.Join(dest, "lib/systemd/system/mfagated.service")

	t.Run("files", func(t *testing.T) {
		for _, f := range []struct {
			path string
			mode fs.FileMode
			same string // the source it must equal, if any
		}{
			{"usr/bin/mfagated", 0o755, ""},
			{"usr/bin/mfagatectl", 0o755, ""},
			{"lib/systemd/system/mfagated.service", 0o644, "mfagated.service"},
			{"usr/lib/sysusers.d/mfagate.conf", 0o644, "mfagate.sysusers"},
			{"usr/lib/tmpfiles.d/mfagate.conf", 0o644, "mfagate.tmpfiles"},
			{"lib/udev/rules.d/90-mfagate.rules", 0o644, "90-mfagate.rules"},
			{"etc/mfagate/mfagate.toml", 0o640, "mfagate.toml"},
			{"usr/share/doc/mfagate/mfagate.toml.example", 0o644, "mfagate.toml"},
			{"usr/share/doc/mfagate/README.systemd.md", 0o644, "README.md"},
		} {
			checkFile(t, filepath.Join(dest, f.path), f.mode, f.same)
		}
		if _, err := os.Stat(filepath.Join(dest, "usr/bin/modemsim")); err == nil {
			t.Error("modemsim is installed; it is a development tool")
		}
		// The staged daemon runs: -check-config on a missing file fails
		// with the daemon's own message, not an exec error.
		out, err := run(t, filepath.Join(dest, "usr/bin/mfagated"), "-check-config", "-config", filepath.Join(dest, "absent.toml"))
		if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(out, "absent.toml") {
			t.Errorf("staged mfagated -check-config on a missing file: %v\n%s", err, out)
		}
	})

	t.Run("verify", func(t *testing.T) {
		root := verifyRoot(t, dest)
		out, err := run(t, "systemd-analyze", "verify", "--man=no", "--root="+root, "mfagated.service")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify --root=%s mfagated.service: %v\n%s", root, err, out)
		}
		// The check sees mistakes: verify exits 0 on an unknown key or a bad
		// value, but says so, and that output fails the test above.
		broken := filepath.Join(root, "lib/systemd/system/mfagated.service")
		data, _ := os.ReadFile(unit)
		os.WriteFile(broken, bytes.Replace(data, []byte("DeviceAllow=char-hidraw rw"), []byte("DeviceAllow=char-hidraw rwz"), 1), 0o644)
		if out, _ := run(t, "systemd-analyze", "verify", "--man=no", "--root="+root, "mfagated.service"); !strings.Contains(out, "rwz") {
			t.Errorf("systemd-analyze verify says nothing about a bad DeviceAllow=; the check above cannot fail:\n%s", out)
		}
	})

	t.Run("security", func(t *testing.T) {
		threshold := strconv.Itoa(int(maxExposure * 10))
		out, err := run(t, "systemd-analyze", "security", "--offline=true", "--no-pager", "--threshold="+threshold, unit)
		if err != nil {
			t.Errorf("systemd-analyze security --threshold=%s: %v", threshold, err)
		}
		m := regexp.MustCompile(`Overall exposure level for mfagated\.service: (\d+\.\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no overall exposure in systemd-analyze security output:\n%s", out)
		}
		score, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("overall exposure %.1f", score)
		if score > maxExposure {
			t.Errorf("overall exposure %.1f, want at most %.1f:\n%s", score, maxExposure, out)
		}
		// Hardening must leave the devices reachable.
		acl := regexp.MustCompile(`(?m)^.*DeviceAllow=.*$`).FindString(out)
		for _, dev := range []string{"char-ttyUSB:rw", "char-ttyACM:rw", "char-hidraw:rw"} {
			if !strings.Contains(acl, dev) {
				t.Errorf("device ACL %q lacks %s", acl, dev)
			}
		}
		for _, setting := range []string{"PrivateDevices=", "PrivateUsers="} {
			if !regexp.MustCompile(`(?m)^✗ ` + regexp.QuoteMeta(setting)).MatchString(out) {
				t.Errorf("%s is set: the modems and keys would be unreachable", setting)
			}
		}
	})

	t.Run("sysusers and tmpfiles", func(t *testing.T) {
		if os.Geteuid() != 0 {
			out, err := run(t, "systemd-sysusers", "--root="+dest, "--dry-run")
			if err != nil || strings.Contains(out, "mfagate.conf:") {
				t.Errorf("systemd-sysusers --dry-run: %v\n%s", err, out)
			}
			t.Skip("not root: systemd-sysusers and systemd-tmpfiles cannot set owners in the staged tree")
		}
		out, err := run(t, "systemd-sysusers", "--root="+dest)
		if err != nil || strings.Contains(out, "mfagate.conf:") {
			t.Fatalf("systemd-sysusers --root: %v\n%s", err, out)
		}
		user := entry(t, filepath.Join(dest, "etc/passwd"), "mfagate")
		group := entry(t, filepath.Join(dest, "etc/group"), "mfagate")
		if len(user) < 7 || user[3] != group[2] || user[5] != "/var/lib/mfagate" || !strings.HasSuffix(user[6], "nologin") {
			t.Errorf("passwd entry %q: want primary group mfagate (%s), home /var/lib/mfagate, no login shell", user, group[2])
		}
		uid, _ := strconv.Atoi(user[2])
		gid, _ := strconv.Atoi(group[2])
		if uid == 0 || uid >= 1000 {
			t.Errorf("mfagate has uid %d, want a system uid", uid)
		}

		out, err = run(t, "systemd-tmpfiles", "--root="+dest, "--create")
		if err != nil || out != "" {
			t.Fatalf("systemd-tmpfiles --root --create: %v\n%s", err, out)
		}
		for _, f := range []struct {
			path     string
			mode     fs.FileMode
			uid, gid int
		}{
			{"etc/mfagate", fs.ModeDir | 0o750, 0, gid},
			{"etc/mfagate/mfagate.toml", 0o640, 0, gid},
			{"var/lib/mfagate", fs.ModeDir | 0o700, uid, gid},
		} {
			fi, err := os.Stat(filepath.Join(dest, f.path))
			if err != nil {
				t.Error(err)
				continue
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode() != f.mode || int(st.Uid) != f.uid || int(st.Gid) != f.gid {
				t.Errorf("/%s: %v %d:%d, want %v %d:%d", f.path, fi.Mode(), st.Uid, st.Gid, f.mode, f.uid, f.gid)
			}
		}
	})
}

// TestInstallKeepsConfig: a second install, here under another prefix,
// leaves the operator's configuration alone and points the unit at the
// binary where it went.
func TestInstallKeepsConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon; skipped in -short mode")
	}
	dest := t.TempDir()
	conf := filepath.Join(dest, "etc/mfagate/mfagate.toml")
	os.MkdirAll(filepath.Dir(conf), 0o750)
	mine := []byte("# the operator's configuration\n")
	if err := os.WriteFile(conf, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	stageInstallInto(t, dest, "PREFIX=/usr/local")
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, mine) {
		t.Errorf("make install replaced the existing configuration:\n%s", got)
	}
	checkFile(t, filepath.Join(dest, "usr/share/doc/mfagate/mfagate.toml.example"), 0o644, "mfagate.toml")
	checkFile(t, filepath.Join(dest, "usr/local/bin/mfagated"), 0o755, "")
	if got := unitValues(t, filepath.Join(dest, "lib/systemd/system/mfagated.service"), "ExecStart"); !slices.Equal(got, []string{"/usr/local/bin/mfagated -config /etc/mfagate/mfagate.toml"}) {
		t.Errorf("ExecStart = %q, want the /usr/local/bin binary", got)
	}
}

// TestUnitAgreesWithHost checks that the unit, the sysusers.d entry and the
// udev rules name the same user and groups: a group udev gives a device to
// must be one the service runs with.
func TestUnitAgreesWithHost(t *testing.T) {
	user := unitValues(t, "mfagated.service", "User")
	group := unitValues(t, "mfagated.service", "Group")
	var groups []string
	for _, v := range unitValues(t, "mfagated.service", "SupplementaryGroups") {
		groups = append(groups, strings.Fields(v)...)
	}
	if !slices.Equal(user, []string{"mfagate"}) || !slices.Equal(group, []string{"mfagate"}) {
		t.Errorf("User=%q Group=%q, want mfagate", user, group)
	}
	sysusers, err := os.ReadFile("mfagate.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^u mfagate - "[^"]*" /var/lib/mfagate$`).Match(sysusers) {
		t.Errorf("mfagate.sysusers does not create user mfagate with home /var/lib/mfagate:\n%s", sysusers)
	}
	data, err := os.ReadFile("90-mfagate.rules")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := parseRules(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for _, p := range r.pairs {
			if p.key == "GROUP" && p.value != group[0] && !slices.Contains(groups, p.value) {
				t.Errorf("90-mfagate.rules line %d gives devices to group %s, which mfagated.service does not run with (Group=%s, SupplementaryGroups=%s)",
					r.line, p.value, group[0], strings.Join(groups, " "))
			}
		}
	}
	if got := unitValues(t, "mfagated.service", "LoadCredential"); !slices.Contains(got, "secret.key:/etc/mfagate/secret.key") {
		t.Errorf("LoadCredential = %q, want secret.key:/etc/mfagate/secret.key (the path README.md gives key_file)", got)
	}
	readme, _ := os.ReadFile("README.md")
	if !bytes.Contains(readme, []byte(`key_file = "${CREDENTIALS_DIRECTORY}/secret.key"`)) {
		t.Error("README.md does not give key_file the credential's path")
	}
}

// unitValues returns the values of key in the [Service] section of a unit file.
func unitValues(t *testing.T, path, key string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vals []string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]" && strings.HasPrefix(line, key+"="):
			vals = append(vals, strings.TrimPrefix(line, key+"="))
		}
	}
	return vals
}

// entry returns the colon-separated fields of name's line in a passwd or group file.
func entry(t *testing.T, path, name string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ":"); f[0] == name {
			return f
		}
	}
	t.Fatalf("%s has no entry for %s", path, name)
	return nil
}

// verifyRoot builds a root for `systemd-analyze verify --root`: the host's
// own units (the targets mfagated.service depends on by default), the
// staged unit and daemon, and /bin/kill for ExecReload=. verify checks that
// each command exists under the root, so the staged tree alone would fail,
// and without --root it would look for /usr/bin/mfagated on this host.
func verifyRoot(t *testing.T, dest string) string {
	t.Helper()
	root := t.TempDir()
	units := filepath.Join(root, "lib/systemd/system")
	var hostUnits string
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(dir, "sysinit.target")); err == nil {
			hostUnits = dir
			break
		}
	}
	if hostUnits == "" {
		t.Skip("this host has no systemd units (sysinit.target) to verify against")
	}
	copyUnits(t, hostUnits, units)
	kill, err := exec.LookPath("kill")
	if err != nil {
		t.Skip("no kill(1) on this host")
	}
	for _, c := range []struct{ from, to string }{
		{filepath.Join(dest, "lib/systemd/system/mfagated.service"), filepath.Join(units, "mfagated.service")},
		{filepath.Join(dest, "usr/bin/mfagated"), filepath.Join(root, "usr/bin/mfagated")},
		{kill, filepath.Join(root, "bin/kill")},
	} {
		copyFile(t, c.from, c.to)
	}
	return root
}

// copyUnits copies the unit files of dir (not its .wants/.requires
// directories) into to, symbolic links (aliases) as links.
func copyUnits(t *testing.T, dir, to string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		from := filepath.Join(dir, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(from)
			if err == nil {
				err = os.Symlink(target, filepath.Join(to, e.Name()))
			}
			if err != nil {
				t.Fatal(err)
			}
		case e.Type().IsRegular():
			copyFile(t, from, filepath.Join(to, e.Name()))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, _ := in.Stat()
	os.MkdirAll(filepath.Dir(to), 0o755)
	os.Remove(to)
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
