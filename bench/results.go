package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Entry is one figure. Baseline, BaselineValue and Ratio are set only
// when the baseline was measured in the same run (see Run.compare).
type Entry struct {
	Name          string   `json:"name"`
	Value         float64  `json:"value"`
	Unit          string   `json:"unit"`
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue *float64 `json:"baseline_value,omitempty"`
	Ratio         *float64 `json:"ratio,omitempty"`
	Target        string   `json:"target,omitempty"`
	Met           *bool    `json:"met,omitempty"`
	Note          string   `json:"note,omitempty"`
	// Above says that Value is a bound the measured event did not happen
	// within: the true value (and ratio) is larger.
	Above bool `json:"above,omitempty"`
	run   string
}

// Machine describes where a run took place.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel,omitempty"`
	CPUModel  string `json:"cpu_model,omitempty"`
}

// Run holds every figure of one invocation of the harness.
type Run struct {
	RunID    string    `json:"run_id"`
	Mode     string    `json:"mode"`
	Command  string    `json:"command"`
	Commit   string    `json:"commit,omitempty"` // git HEAD of the measured tree, "+dirty" if it had changes
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Entries  []*Entry  `json:"entries"`
	NotDone  []string  `json:"not_done,omitempty"`
}

func newRun(mode, command string) *Run {
	var b [8]byte
	rand.Read(b[:])
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(v))
	}
	if v, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(v), "\n") {
			if k, val, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(val)
				break
			}
		}
	}
	commit := ""
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += "+dirty"
		}
	}
	return &Run{RunID: hex.EncodeToString(b[:]), Mode: mode, Command: command, Commit: commit, Started: time.Now().UTC(), Machine: m}
}

// add records a figure of this run.
func (r *Run) add(e Entry) *Entry {
	e.Value = round(e.Value)
	e.run = r.RunID
	p := &e
	r.Entries = append(r.Entries, p)
	return p
}

// compare sets e's ratio against base. Both must belong to this run: a
// figure from another run (another machine, another load) is never used.
// higherBetter says whether the ratio is value/baseline (throughput) or
// baseline/value (latency of a peer over ours).
func (r *Run) compare(e, base *Entry, ratio float64, target float64) error {
	if e.run != r.RunID || base.run != r.RunID {
		return fmt.Errorf("refusing to compare %q with %q: not measured in the same run", e.Name, base.Name)
	}
	bv := base.Value
	e.Baseline = base.Name
	e.BaselineValue = &bv
	rt := round(ratio)
	e.Ratio = &rt
	if target > 0 {
		met := ratio >= target
		e.Met = &met
	}
	return nil
}

func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	// three significant digits after the point for small values, whole numbers above 1000
	if math.Abs(v) >= 1000 {
		return math.Round(v)
	}
	return math.Round(v*1000) / 1000
}

func (r *Run) write(path string) error {
	r.Finished = time.Now().UTC()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// cells renders an entry for a table: its value, the baseline, the ratio,
// and the target marked with met or missed.
func (e Entry) cells(met, missed string) (value, base, ratio, target string) {
	above := ""
	if e.Above {
		above = "> "
	}
	value = fmt.Sprintf("%s%g", above, e.Value)
	if e.BaselineValue != nil {
		base = fmt.Sprintf("%s = %g", e.Baseline, *e.BaselineValue)
		ratio = fmt.Sprintf("%s%g", above, *e.Ratio)
	}
	target = e.Target
	if e.Met != nil {
		if *e.Met {
			target += met
		} else {
			target += missed
		}
	}
	return value, base, ratio, target
}

func (r *Run) table(w io.Writer) {
	fmt.Fprintf(w, "run %s (%s) on %d CPUs, %s, %s/%s, %s\n", r.RunID, r.Mode, r.Machine.CPUs, r.Machine.GoVersion,
		r.Machine.OS, r.Machine.Arch, r.Started.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tunit\tbaseline\tratio\ttarget")
	for _, e := range r.Entries {
		value, base, ratio, target := e.cells(" met", " MISSED")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, value, e.Unit, base, ratio, target)
	}
	tw.Flush()
	for _, n := range r.NotDone {
		fmt.Fprintf(w, "not measured: %s\n", n)
	}
}
