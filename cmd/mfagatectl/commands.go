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
	details string // more of the per-command help, when the summary is not enough
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
		summary: "clear the lock after too many failed verifications, and a fraud block (admin)", setup: setupUnlock,
		details: `The same route clears both: the lock after too many failed verifications
in a row, and the block on phone verification that follows a "0" keyed on
a call (a fraud report). "mfagatectl fraud clear" is the same command.`},
	{name: "challenge", args: "USER", opts: "[-method METHOD_ID] [-channel sms|voice] [-purpose signin|test|proof] [-verify]", minArgs: 1, maxArgs: 1,
		summary: "start a verification; with -verify, enter the code or wait for the call", setup: setupChallenge},
	{name: "verify", args: "CHALLENGE_ID CODE", minArgs: 2, maxArgs: 2,
		summary: "check a code against a TOTP or SMS challenge", setup: setupVerify},
	{name: "wait", args: "CHALLENGE_ID", opts: "[-wait DURATION]", minArgs: 1, maxArgs: 1,
		summary: "show a challenge, waiting up to -wait for its status to change", setup: setupWait,
		details: `Exit status: 0 when the challenge is approved or still in progress when
the wait ends, 1 when it ended otherwise (denied, expired, locked, failed,
no answer, busy) or the gateway could not be asked. A script that must
tell approved from in progress reads "status" with -json.`},
	{name: "mfa apply", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "apply for MFA: the user becomes pending, then active", setup: setupApply},
	{name: "mfa terminate", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "turn MFA off for the user (admin)", setup: setupTerminate},
	{name: "audit", opts: "[-user USER] [-limit N]", minArgs: 0, maxArgs: 0,
		summary: "list audit events, newest first (admin)", setup: setupAudit},
	{name: "outbox", opts: "[-state queued|sending|failed] [-limit N]", minArgs: 0, maxArgs: 0,
		summary: "list SMS and call jobs, newest first (admin)", setup: setupOutbox},
	{name: "fraud clear", args: "USER", minArgs: 1, maxArgs: 1,
		summary: "clear the phone block after a fraud report; it also clears a failure lock (admin)", setup: setupFraudClear,
		details: `A user who keys "0" on a verification call reports it as fraud: phone
verification (SMS and calls) is then blocked for the user until an
operator clears it. This uses the same route as "mfagatectl user unlock",
so it also clears the lock after too many failed verifications in a row.`},
	{name: "oidc keys", minArgs: 0, maxArgs: 0,
		summary: "list the External MFA provider's signing keys and when each signs (admin)", setup: setupOIDCKeys},
	{name: "oidc rotate-key", minArgs: 0, maxArgs: 0,
		summary: "generate the next External MFA signing key now; it signs after oidc.key_publish_ahead (admin)", setup: setupOIDCRotate,
		details: `The new key is published in /oidc/jwks at once and signs only after
oidc.key_publish_ahead (48 hours by default), because Entra caches the
provider's key set for 24 hours. The key it replaces stays published until
the tokens it signed have expired. Keys also rotate on their own every
oidc.key_rotation.`},
	{name: "backup", args: "FILE", opts: "[-force]", minArgs: 1, maxArgs: 1,
		summary: "copy the gateway's SQLite database to FILE (mode 0600) while it keeps serving (admin)", setup: setupBackup,
		details: `Asks the gateway for a consistent copy of its database (GET /v1/backup,
made with SQLite's VACUUM INTO while sign-ins go on) and writes it to FILE,
mode 0600, renamed into place only once whole. FILE holds TOTP secrets and
queued codes sealed with the server key, but not the key: back the key file
up separately. Put a copy back with mfagated -restore FILE. A PostgreSQL
store is refused (backup_unsupported): use pg_dump. A large database may
need a longer -timeout (and server.write_timeout).`},
	{name: "token new", args: "CLIENT", opts: "[-config FILE]", minArgs: 1, maxArgs: 1,
		summary: "make a fresh API token for a client and print it once, with the token_sha256 line to paste", setup: setupTokenNew,
		details: `Runs on this machine only: the gateway is not asked and the token crosses
no network. Prints the token (64 hex characters, shown once) and the
token_sha256 line for the client's [[api.client]] entry. With -config, the
gateway's configuration file, the line lists the hashes the client holds
and the new one, for a change-over: paste it, reload the gateway (SIGHUP,
systemctl reload mfagated), move the client to the new token, then remove
the old hash and reload again. Every token listed is accepted meanwhile.`},
	{name: "status", minArgs: 0, maxArgs: 0,
		summary: "one screen for the sysadmin: readiness, modems, security keys, outbox, nodes (admin)", setup: setupStatus,
		details: `Shows the gateway's readiness (GET /readyz) and its components, the modems
(state, signal, registration, SMS sent today against the SIM's daily cap,
last error), the security keys present at the kiosk, how many jobs are
queued and sending in the outbox, and every gateway node sharing the store
(GET /v1/nodes): alive while its heartbeat is younger than store.lease, or
SILENT, with its modems up and the jobs it holds, and the re-seal after a
server key rotation (GET /v1/secrets). Modems, keys and the re-seal are the
answering node's own.

Exit status: 0 when the gateway is ready, 1 when it is not or a part could
not be read (everything that could be read is printed first).

With -json it prints one object: "readiness", "modems", "nodes" and
"kiosk_devices" and "secrets" hold the gateway's answers unchanged
(kiosk_devices is null when the kiosk is not enabled), "outbox" the counts, and "errors" the parts
that could not be read.`},
	{name: "modems", minArgs: 0, maxArgs: 0,
		summary: "list the modems: state, signal, SIM, port, counters (admin)", setup: setupModems,
		details: `SIGNAL is "-" while the modem does not know it. SMS TODAY is the SMS sent
through the SIM today against its daily_cap. SENT, FAILED, CALLS and
REOPENS count since the daemon started.`},
	{name: "test-sms", args: "MODEM_ID NUMBER", opts: "[-text TEXT] [-wait]", minArgs: 2, maxArgs: 2,
		summary: "send a test SMS through one modem; with -wait, follow it until it is sent (admin)", setup: setupTestSMS,
		details: `Queues a message to the mobile NUMBER (national or E.164) through the modem
MODEM_ID only ("mfagatectl modems" lists them), after any sign-in
messages. Without -wait it prints the job; "mfagatectl outbox" follows it.

With -wait it follows the job in the outbox, showing its progress on
stderr, until it is sent (exit 0) or failed (exit 1), for at most -timeout.
With -json it prints the queued job and, with -wait, the final one, one
per line.`},
	{name: "radius test", args: "USER", opts: "[-server HOST:PORT] [-secret-file FILE] [-code CODE]", minArgs: 1, maxArgs: 1,
		summary: "sign in over RADIUS as a gateway does: send the code, answer challenges", setup: setupRadiusTest,
		details: `Sends an Access-Request for USER to the RADIUS server at -server (default
127.0.0.1:1812) as one of its [[radius.client]]s: from this host's address,
with the client's shared secret from -secret-file (with -demo-dir, the
demo's radius-demo-vpn.secret) and a Message-Authenticator. The password is
-code, or a line read from standard input: an app code, or empty (or the
trigger word) to be sent a challenge. Each Access-Challenge's Reply-Message
is printed and the next line of standard input answers it (a code, or the
number of another option). The demo prints its RADIUS port in its banner.

Prints Access-Accept, Access-Reject or Access-Challenge with the
Reply-Message, and an Accept's Class and Filter-Id. Exit status: 0 on
Access-Accept, 1 otherwise or when no answer came within -timeout (a wrong
secret or an address that is no client's gets none).`},
	{name: "kiosk open", args: "USER", opts: "[-base URL] [-proof CHALLENGE_ID]", minArgs: 1, maxArgs: 1,
		summary: "open a security-key enrollment session and print its kiosk page address", setup: setupKioskOpen,
		details: `Prints the page to open in the kiosk's browser (the -url, or -base, followed
by the session's /kiosk/e_… path) and when the session expires. Anyone
with the address can use the session until then.`},
	{name: "kiosk devices", minArgs: 0, maxArgs: 0,
		summary: "list the security keys present at the kiosk", setup: setupKioskDevices},
	{name: "kiosk enroll", args: "USER", opts: "[-device PATH] [-pin PIN] [-label LABEL] [-proof CHALLENGE_ID]", minArgs: 1, maxArgs: 1,
		summary: "register the security key at the kiosk for the user, waiting for the touch", setup: setupKioskEnroll,
		details: `Opens a session, asks the gateway to register the key at -device (or the only
key present) and waits, showing progress on stderr, until the key is
touched and registered, or the gateway refuses. A key without a PIN gets
-pin as its new PIN. Without -pin, the PIN is read from standard input,
which keeps it out of the process list.`},
	{name: "completion bash", minArgs: 0, maxArgs: 0,
		summary: "print a bash completion script for commands, subcommands and flags", setup: setupCompletionBash,
		details: `Load it in the current shell with
    source <(mfagatectl completion bash)
or install it for every shell with
    mfagatectl completion bash > /etc/bash_completion.d/mfagatectl`},
	{name: "completion zsh", minArgs: 0, maxArgs: 0,
		summary: "print a zsh completion script for commands, subcommands and flags", setup: setupCompletionZsh,
		details: `Load it in the current shell (after compinit) with
    source <(mfagatectl completion zsh)
or install it as _mfagatectl in a directory of $fpath, for example
    mfagatectl completion zsh > /usr/local/share/zsh/site-functions/_mfagatectl`},
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
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.details)
	}
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
		// A zero default is left out: a flag whose default is computed
		// ("-wait") says so in its usage, and "(default 0s)" would contradict it.
		if !isZeroDefault(f.DefValue) {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	}
	tw.Flush()
}

// isZeroDefault reports whether def is the zero value of a string, bool,
// integer or duration flag.
func isZeroDefault(def string) bool {
	switch def {
	case "", "false", "0", "0s":
		return true
	}
	return false
}

// printGroupUsage lists the subcommands of a group such as "user".
func printGroupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: mfagatectl %s SUBCOMMAND [ARGUMENTS] [FLAGS]\n\nSubcommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(sub+" "+c.args), c.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n\"mfagatectl help %s SUBCOMMAND\" shows one subcommand's flags.\n", group)
}

// isHelpFlag reports whether arg asks for help the way the flag package
// understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	if len(args) == 1 && find(args[0]) == nil && len(subcommands(args[0])) > 0 {
		printGroupUsage(stdout, args[0])
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
