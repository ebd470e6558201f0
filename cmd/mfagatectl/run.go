package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the gateway refused, or could not be reached
	exitUsage = 2 // the command line is wrong
	exitIntr  = 130
)

const (
	defaultURL     = "http://127.0.0.1:8470"
	defaultTimeout = 30 * time.Second
)

// usageError is a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	url       string
	token     string
	tokenFile string
	demoDir   string
	as        string // with demoDir: whose token (demoTokens)
	json      bool
	timeout   time.Duration
	given     map[string]bool // flags set on the command line
}

func defaultGlobals() *globals {
	g := &globals{url: defaultURL, timeout: defaultTimeout, given: map[string]bool{}}
	if v := os.Getenv("MFAGATE_URL"); v != "" {
		g.url = v
	}
	g.token = os.Getenv("MFAGATE_TOKEN")
	return g
}

// register defines the global flags on fs. Each definition starts from the
// current value, so flags given before the command survive a second
// registration on the command's own flag set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "gateway `URL`: http://host:port, https://host:port or unix:/path/to.sock (env MFAGATE_URL)")
	fs.StringVar(&g.token, "token", g.token, "API bearer `TOKEN` (env MFAGATE_TOKEN; prefer -token-file: arguments are visible to other local users)")
	fs.StringVar(&g.tokenFile, "token-file", g.tokenFile, "read the API token from `FILE`")
	fs.StringVar(&g.demoDir, "demo-dir", g.demoDir, "use the address (demo.url) and admin token of the demo gateway whose state is in `DIR` (mfagated -demo -state-dir DIR)")
	fs.StringVar(&g.as, "as", g.as, "with -demo-dir: act as the demo's `CLIENT`: admin (the default) or idp (roles idp and enroll, held to the proof rule)")
	fs.BoolVar(&g.json, "json", g.json, "print the gateway's JSON answers unchanged, one per line, for scripts")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up on one request after `DURATION`")
}

func (g *globals) noteGiven(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) { g.given[f.Name] = true })
}

// resolveToken picks the token from the one source the user named, else
// from MFAGATE_TOKEN.
func (g *globals) resolveToken() (string, error) {
	var named []string
	for _, n := range []string{"token", "token-file", "demo-dir"} {
		if g.given[n] {
			named = append(named, "-"+n)
		}
	}
	if len(named) > 1 {
		return "", usagef("%s: give only one source of the API token", strings.Join(named, " and "))
	}
	switch {
	case g.given["token-file"]:
		return readToken("-token-file", g.tokenFile)
	case g.given["demo-dir"]:
		file, err := g.demoTokenFile()
		if err != nil {
			return "", err
		}
		return readToken("-demo-dir", filepath.Join(g.demoDir, file))
	case g.given["as"]:
		return "", usagef("-as %s: picks one of the demo's tokens; give -demo-dir DIR too", g.as)
	}
	if g.token == "" {
		return "", usagef("no API token: pass -token-file FILE or -demo-dir DIR, or set MFAGATE_TOKEN")
	}
	if strings.ContainsAny(g.token, " \t\r\n") {
		return "", usagef("-token: the token must not contain spaces or line breaks")
	}
	return g.token, nil
}

// demoTokens are the token files a demo's state directory holds, by the
// name -as takes.
var demoTokens = map[string]string{"admin": "admin.token", "idp": "idp.token"}

func (g *globals) demoTokenFile() (string, error) {
	as := g.as
	if as == "" {
		as = "admin"
	}
	file, ok := demoTokens[as]
	if !ok {
		return "", usagef("-as %q: want admin or idp", g.as)
	}
	return file, nil
}

// resolveURL takes the gateway's address from the demo's demo.url when
// -demo-dir is given without -url (the file is written while the demo
// runs; it wins over MFAGATE_URL, which is not on the command line).
func (g *globals) resolveURL() error {
	if !g.given["demo-dir"] || g.given["url"] {
		return nil
	}
	path := filepath.Join(g.demoDir, "demo.url")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return usagef("-demo-dir: %s does not exist: is the demo running (make demo, or mfagated -demo -state-dir %s)? Or give -url", path, g.demoDir)
	}
	if err != nil {
		return usagef("-demo-dir: read the demo's address: %v", err)
	}
	u := strings.TrimSpace(string(b))
	if u == "" || strings.ContainsAny(u, " \t\r\n") {
		return usagef("-demo-dir: %s must hold the demo's URL alone on one line", path)
	}
	g.url = u
	return nil
}

func readToken(flagName, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("%s: read API token: %v", flagName, err)
	}
	t := strings.TrimSpace(string(b))
	switch {
	case t == "":
		return "", usagef("%s: %s is empty; it must hold the API token", flagName, path)
	case strings.ContainsAny(t, " \t\r\n"):
		return "", usagef("%s: %s must hold the token alone on one line", flagName, path)
	}
	return t, nil
}

// env is what a command runs with.
type env struct {
	ctx    context.Context
	g      *globals
	in     *bufio.Reader
	tty    bool // stdin is a terminal, which echoes what is typed
	errTTY bool // stderr is a terminal: progress is one line rewritten in place
	lines  *lineReader
	stdout io.Writer
	stderr io.Writer
	api    *client
}

// client returns the API client, built on first use so that commands
// check their arguments before complaining about a missing token.
func (e *env) client() (*client, error) {
	if e.api != nil {
		return e.api, nil
	}
	if e.g.timeout <= 0 {
		return nil, usagef("-timeout %s: must be positive, like 30s", e.g.timeout)
	}
	token, err := e.g.resolveToken()
	if err != nil {
		return nil, err
	}
	if err := e.g.resolveURL(); err != nil {
		return nil, err
	}
	c, err := newClient(e.g.url, token, e.g.timeout)
	if err != nil {
		return nil, err
	}
	e.api = c
	return c, nil
}

// call sends one request through the client.
func (e *env) call(method, path string, query map[string]string, body any) ([]byte, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	q := make(map[string][]string, len(query))
	for k, v := range query {
		if v != "" {
			q[k] = []string{v}
		}
	}
	return c.do(e.ctx, method, path, q, body)
}

// printJSON writes an answer's body unchanged, ending the line.
func (e *env) printJSON(raw []byte) {
	if len(raw) == 0 {
		return
	}
	e.stdout.Write(raw)
	if raw[len(raw)-1] != '\n' {
		io.WriteString(e.stdout, "\n")
	}
}

// table returns a writer that aligns tab-separated columns; Flush it.
func (e *env) table() *tabwriter.Writer {
	return tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
}

// note writes progress and prompts to stderr, keeping stdout for results.
func (e *env) note(format string, args ...any) {
	fmt.Fprintf(e.stderr, format, args...)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := defaultGlobals()
	top := flag.NewFlagSet("mfagatectl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return exitOK
		}
		return fail(stderr, usagef("%v; run \"mfagatectl help\" for usage", err))
	}
	g.noteGiven(top)
	rest := top.Args()
	if len(rest) == 0 {
		return fail(stderr, usagef("no command given; run \"mfagatectl help\" for the list"))
	}
	if rest[0] == "help" {
		return help(rest[1:], stdout, stderr)
	}
	// "mfagatectl user -h" is "mfagatectl help user".
	if len(rest) == 2 && isHelpFlag(rest[1]) && find(rest[0]) == nil && len(subcommands(rest[0])) > 0 {
		return help(rest[:1], stdout, stderr)
	}
	cmd, rest, err := lookup(rest)
	if err != nil {
		return fail(stderr, err)
	}

	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	act := cmd.setup(fs)
	g.register(fs)
	pos, err := parseInterleaved(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandUsage(stdout, cmd)
		return exitOK
	}
	if err != nil {
		return fail(stderr, usagef("%s: %v; usage: %s", cmd.name, err, cmd.synopsis()))
	}
	g.noteGiven(fs)
	if len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs {
		return fail(stderr, usagef("%s: %s; usage: %s", cmd.name, argCountProblem(cmd, pos), cmd.synopsis()))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{ctx: ctx, g: g, in: bufio.NewReader(stdin), tty: isTerminal(stdin), errTTY: isTerminal(stderr), stdout: stdout, stderr: stderr}
	defer e.stopReading()
	return fail(stderr, act(e, pos))
}

// fail prints err as one line and returns the exit code it deserves.
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintf(stderr, "mfagatectl: %s\n", msg)
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitIntr
	}
	return exitFail
}

// isTerminal reports whether stdin, stdout or stderr is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && isTTY(file)
}

// terminalWidth returns the width of the terminal f, 0 when unknown.
func terminalWidth(f any) int {
	if file, ok := f.(*os.File); ok {
		return ttyWidth(file)
	}
	return 0
}

func argCountProblem(cmd *command, pos []string) string {
	if len(pos) > cmd.maxArgs {
		// Not echoed: a stray argument may be a code.
		return fmt.Sprintf("%d arguments, want %d", len(pos), cmd.maxArgs)
	}
	names := strings.Fields(cmd.args)
	if len(pos) < len(names) {
		return "missing " + names[len(pos)]
	}
	return "missing arguments"
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments ("user add-totp 0123456789 -label Phone"). After
// "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
