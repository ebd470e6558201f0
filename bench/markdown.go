package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// printMarkdown renders a results file as the table in docs/performance.md.
func printMarkdown(path string, w io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "Run `%s` (`%s`) of commit `%s`, %s, %d CPUs (%s), %s, %s/%s.\n\n", r.RunID, r.Command, r.Commit,
		r.Started.Format("2006-01-02 15:04 MST"), r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch)
	fmt.Fprintln(w, "| figure | value | unit | baseline (same run) | ratio | target |")
	fmt.Fprintln(w, "|---|---:|---|---|---:|---|")
	for _, e := range r.Entries {
		value, base, ratio, target := e.cells(": met", ": **missed**")
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s |\n", e.Name, value, e.Unit, base, ratio, target)
	}
	if len(r.NotDone) > 0 {
		fmt.Fprintf(w, "\nNot measured in this run: %s.\n", strings.Join(r.NotDone, "; "))
	}
	return nil
}
