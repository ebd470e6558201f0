// Command bench compares mfagate with what its users would otherwise run,
// on the same machine and in the same run, and reports ratios.
//
//	go run ./bench -quick        # under a minute (make bench-quick)
//	go run ./bench               # the full set (make bench)
//	go run ./bench -only scale   # figure 7 alone, into bench/results-scale.json
//
// It builds mfagated and modemsim, runs them as separate processes on
// loopback, prints a table and writes bench/results.json. Ratios are only
// ever computed between figures of the same run; docs/performance.md
// describes each figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	bare := flag.String("serve-bare", "", "internal: serve the bare net/http baseline on this address")
	quick := flag.Bool("quick", false, "small loads and short runs (under a minute)")
	out := flag.String("o", "bench/results.json", "where to write the results")
	only := flag.String("only", "", "comma-separated figures to run (totp, sms, latency, voice, recovery, profile, scale); default all but scale")
	md := flag.String("markdown", "", "print the results file as a Markdown table and exit")
	flag.Parse()
	if *md != "" {
		if err := printMarkdown(*md, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *bare != "" {
		if err := serveBare(*bare); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mode := "full"
	if *quick {
		mode = "quick"
	}
	// Figure 7 (scale) runs only when asked for, and has its own results
	// file: its million-row store takes minutes to seed.
	if *only == "scale" && !flagSet("o") {
		*out = "bench/results-scale.json"
	}
	run := newRun(mode, "go run ./bench "+strings.Join(os.Args[1:], " "))
	if err := bench(ctx, run, *quick, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		run.table(os.Stdout)
		os.Exit(1)
	}
	run.table(os.Stdout)
	if err := run.write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s\n", *out)
}

// flagSet reports whether the command line set flag name.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func bench(ctx context.Context, run *Run, quick bool, only string) error {
	want := func(f string) bool {
		return only == "" && f != "scale" || strings.Contains(","+only+",", ","+f+",")
	}
	bin, err := os.MkdirTemp("", "mfagate-bench-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	if err := build(bin); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	// The figures as docs/performance.md numbers them; each says on stderr how long it took.
	figures := []struct {
		key, name string
		run       func() error
	}{
		{"totp", "figure 1", func() error {
			dur, users := 10*time.Second, 600
			if quick {
				dur, users = 800*time.Millisecond, 120
			}
			return figureTOTP(ctx, run, bin, dur, users)
		}},
		{"sms", "figures 3 and 5", func() error { return figureSMS(ctx, run, bin, quick) }},
		{"latency", "figure 2", func() error { return figureLatency(ctx, run, bin, quick) }},
		{"voice", "figure 4", func() error {
			// Figures 4 and 6 came last: a failure there is reported as
			// not measured and does not lose the figures before it.
			if err := figureVoice(ctx, run, bin, quick); err != nil {
				fmt.Fprintln(os.Stderr, "figure 4:", err)
				run.NotDone = append(run.NotDone, "figure 4 (voice): "+strings.SplitN(err.Error(), "\n", 2)[0])
			}
			return nil
		}},
		{"recovery", "figure 6", func() error { return figureRecovery(ctx, run, bin, quick) }},
		{"scale", "figure 7", func() error { return figureScale(ctx, run, bin, quick) }},
		{"profile", "profile", func() error {
			if quick {
				run.NotDone = append(run.NotDone, "CPU profile of figure 1's API path (full run only)")
				return nil
			}
			// The profile explains figure 1 but is not a figure: a
			// failure (a package being edited) is reported, not fatal.
			if err := figureProfile(ctx, run); err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
				run.NotDone = append(run.NotDone, "CPU profile of figure 1's API path: "+strings.SplitN(err.Error(), "\n", 2)[0])
			}
			return nil
		}},
	}
	for _, f := range figures {
		if !want(f.key) && !(f.key == "sms" && want("footprint")) {
			continue
		}
		t0 := time.Now()
		if err := f.run(); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		fmt.Fprintf(os.Stderr, "%s took %s\n", f.name, time.Since(t0).Round(100*time.Millisecond))
	}
	return nil
}
