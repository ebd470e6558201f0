// Command softkey runs the software FIDO2 security key on a pty, for the
// demo and for trying libfido2 tools by hand:
//
//	softkey -state .demo/softkey.json -link .demo/softkey
//	fido2-token -I .demo/softkey
//
// It prints the device path on stdout and serves until SIGINT or SIGTERM.
// SIGUSR1 touches the key; SIGUSR2 simulates unplugging and replugging it.
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mfagate/device/softkey"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		aaguidHex   = flag.String("aaguid", "", "AAGUID as 32 hex digits (default: the softkey model's)")
		attestation = flag.String("attestation", "packed", "attestation format: packed, self or none")
		presence    = flag.String("presence", "auto", "user presence: auto, manual (touch with SIGUSR1; SIGUSR2 replugs) or never")
		touchDelay  = flag.Duration("touch-delay", 500*time.Millisecond, "auto presence: delay before the simulated touch")
		stateFile   = flag.String("state", "", "file keeping the key's secrets and credentials across restarts")
		link        = flag.String("link", "", "symlink to create to the device (a stable path for configuration)")
		u2f         = flag.String("u2f", "none", "U2F support: none (CTAP2 only), also (CTAP2 and U2F) or only (a legacy U2F key)")
		resetWindow = flag.Duration("reset-window", 10*time.Second, "how long after start Reset is allowed (negative: always)")
		verbose     = flag.Bool("v", false, "log CTAP requests")
	)
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	opts := softkey.Options{
		Logger:      log,
		TouchDelay:  *touchDelay,
		StateFile:   *stateFile,
		Link:        *link,
		ResetWindow: *resetWindow,
	}
	if *aaguidHex != "" {
		b, err := hex.DecodeString(*aaguidHex)
		if err != nil || len(b) != 16 {
			fmt.Fprintf(os.Stderr, "softkey: -aaguid %q: want 32 hex digits\n", *aaguidHex)
			return 2
		}
		copy(opts.AAGUID[:], b)
	}
	switch *attestation {
	case "packed":
		opts.Attestation = softkey.AttestationPacked
	case "self":
		opts.Attestation = softkey.AttestationSelf
	case "none":
		opts.Attestation = softkey.AttestationNone
	default:
		fmt.Fprintf(os.Stderr, "softkey: -attestation %q: want packed, self or none\n", *attestation)
		return 2
	}
	switch *presence {
	case "auto":
		opts.Presence = softkey.PresenceAuto
	case "manual":
		opts.Presence = softkey.PresenceManual
	case "never":
		opts.Presence = softkey.PresenceNever
	default:
		fmt.Fprintf(os.Stderr, "softkey: -presence %q: want auto, manual or never\n", *presence)
		return 2
	}

	switch *u2f {
	case "none":
		opts.U2F = softkey.U2FNone
	case "also":
		opts.U2F = softkey.U2FAlso
	case "only":
		opts.U2F = softkey.U2FOnly
	default:
		fmt.Fprintf(os.Stderr, "softkey: -u2f %q: want none, also or only\n", *u2f)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	key, err := softkey.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer key.Close()
	fmt.Println(key.Path())

	// SIGUSR1 presses the button; SIGUSR2 unplugs and replugs the key
	// (a power cycle: needed after three wrong PINs, and opens the reset
	// window again).
	touch := make(chan os.Signal, 1)
	signal.Notify(touch, syscall.SIGUSR1)
	defer signal.Stop(touch)
	replug := make(chan os.Signal, 1)
	signal.Notify(replug, syscall.SIGUSR2)
	defer signal.Stop(replug)
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-key.Done():
			log.Error("software key stopped")
			return 1
		case <-touch:
			key.Touch()
		case <-replug:
			if err := key.PowerCycle(); err != nil {
				log.Error("power cycle", "err", err)
			}
		}
	}
}
