package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// action runs a command whose flags are parsed, with its positional
// arguments.
type action func(e *env, args []string) error

// command is one verb of the CLI.
type command struct {
	name    string // "user show"
	args    string // positional arguments, e.g. "USER METHOD_ID"
	opts    string // flag synopsis, e.g. "[-label LABEL]"
	minArgs int
	maxArgs int
	summary string
	// setup defines the command's own flags on fs and returns what runs
	// once they are parsed.
	setup func(fs *flag.FlagSet) action
}

func (c *command) synopsis() string {
	return strings.Join(strings.Fields("mfagatectl "+c.name+" "+c.args+" "+c.opts), " ")
}

// commands lists every command in the order help shows them.
var commands = []*command{
	{name: "user show", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "show MFA state, default method, methods and warnings", setup: setupUserShow},
	{name: "user add-totp", args: "USER", opts: "[-label LABEL] [-no-confirm] [-qr-invert]", minArgs: 1, maxArgs: 1,
		summary: "register an authenticator app: print its QR code and key, then confirm a code", setup: setupAddTOTP},
	{name: "user add-phone", args: "USER", opts: "-slot mobile|alternate|office -phone NUMBER [-channel sms|voice] [-label LABEL] [-no-confirm]", minArgs: 1, maxArgs: 1,
		summary: "register a phone (-slot, -phone), then confirm the SMS code or wait for the call", setup: setupAddPhone},
	{name: "user confirm", args: "USER METHOD_ID CODE", minArgs: 3, maxArgs: 3,
		summary: "confirm a method with a code, or with an approved call's challenge ID (c_…)", setup: setupConfirm},
	{name: "user remove", args: "USER METHOD_ID", opts: "[-proof CHALLENGE_ID]", minArgs: 2, maxArgs: 2,
		summary: "remove a method (once MFA is on, non-admins need an approved proof challenge)", setup: setupRemove},
	{name: "user default", args: "USER METHOD_ID", minArgs: 2, maxArgs: 2,
		summary: "make a confirmed method the default", setup: setupDefault},
	{name: "user unlock", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "clear the lock after too many failed verifications (admin)", setup: setupUnlock},
	{name: "challenge", args: "USER", opts: "[-method METHOD_ID] [-channel sms|voice] [-purpose signin|test|proof] [-verify]", minArgs: 1, maxArgs: 1,
		summary: "start a verification; with -verify, enter the code or wait for the call", setup: setupChallenge},
	{name: "verify", args: "CHALLENGE_ID CODE", minArgs: 2, maxArgs: 2,
		summary: "check a code against a TOTP or SMS challenge", setup: setupVerify},
	{name: "wait", args: "CHALLENGE_ID", opts: "[-wait DURATION]", minArgs: 1, maxArgs: 1,
		summary: "show a challenge, waiting up to -wait for its status to change", setup: setupWait},
	{name: "mfa apply", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "apply for MFA: the user becomes pending, then active", setup: setupApply},
	{name: "mfa terminate", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "turn MFA off for the user (admin)", setup: setupTerminate},
	{name: "audit", opts: "[-user USER] [-limit N]", minArgs: 0, maxArgs: 0,
		summary: "list audit events, newest first (admin)", setup: setupAudit},
	{name: "outbox", opts: "[-state queued|sending|failed] [-limit N]", minArgs: 0, maxArgs: 0,
		summary: "list SMS and call jobs (admin)", setup: setupOutbox},
}

// lookup finds the command named by the first one or two words of args
// and returns the arguments that follow its name.
func lookup(args []string) (*command, []string, error) {
	if len(args) >= 2 {
		if c := find(args[0] + " " + args[1]); c != nil {
			return c, args[2:], nil
		}
	}
	if c := find(args[0]); c != nil {
		return c, args[1:], nil
	}
	if subs := subcommands(args[0]); len(subs) > 0 {
		if len(args) == 1 || strings.HasPrefix(args[1], "-") {
			return nil, nil, usagef("%s needs a subcommand: %s", args[0], strings.Join(subs, ", "))
		}
		return nil, nil, usagef("unknown command \"%s %s\"; %s has: %s", args[0], args[1], args[0], strings.Join(subs, ", "))
	}
	return nil, nil, usagef("unknown command %q; run \"mfagatectl help\" for the list", args[0])
}

func find(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// subcommands lists the subcommands of a group such as "user".
func subcommands(group string) []string {
	var out []string
	for _, c := range commands {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	return out
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `mfagatectl drives an mfagate gateway through its HTTP API.

Usage: mfagatectl [global flags] COMMAND [ARGUMENTS] [FLAGS]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(tw, "  help [COMMAND]\tshow this list, or one command's flags\n")
	tw.Flush()
	fmt.Fprint(w, "\nGlobal flags (also accepted after the command):\n")
	fs := flag.NewFlagSet("mfagatectl", flag.ContinueOnError)
	// Not defaultGlobals: help must never echo MFAGATE_TOKEN.
	(&globals{url: defaultURL, timeout: defaultTimeout}).register(fs)
	printFlags(w, fs)
	fmt.Fprint(w, `
Exit status: 0 on success, 1 when the gateway refuses or cannot be reached
(or a challenge ends other than approved), 2 when the command line is wrong,
130 when interrupted.
`)
}

func printCommandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", c.synopsis(), strings.ToUpper(c.summary[:1])+c.summary[1:])
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	own := false
	fs.VisitAll(func(*flag.Flag) { own = true })
	if own {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs)
	}
	fmt.Fprint(w, "\nGlobal flags are listed by \"mfagatectl help\".\n")
}

// printFlags lists the flags of fs, sorted by name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var fl []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { fl = append(fl, f) })
	sort.Slice(fl, func(i, j int) bool { return fl[i].Name < fl[j].Name })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fl {
		arg, usage := flag.UnquoteUsage(f)
		name := "-" + f.Name
		if arg != "" {
			name += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	}
	tw.Flush()
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	c, rest, err := lookup(args)
	if err != nil {
		return fail(stderr, err)
	}
	if len(rest) > 0 {
		return fail(stderr, usagef("help: unexpected argument %q; usage: mfagatectl help [COMMAND]", rest[0]))
	}
	printCommandUsage(stdout, c)
	return exitOK
}
