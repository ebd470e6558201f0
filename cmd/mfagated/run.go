package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"mfagate/api"
	"mfagate/config"
	"mfagate/kiosk"
	"mfagate/metrics"
	"mfagate/mfa"
)

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mfagated", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "/etc/mfagate/mfagate.toml", "configuration file")
	checkOnly := fs.Bool("check-config", false, "validate the configuration file and exit")
	demo := fs.Bool("demo", false, "run a self-contained demo: embedded config, fresh state, generated key and admin token")
	stateDir := fs.String("state-dir", "", "demo: directory for the database, key and admin token (default: a new temporary directory)")
	listen := fs.String("listen", "", "override server.listen (\"host:port\" or \"unix:/path\")")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	simSubmit := fs.Duration("sim-sms-latency", 3*time.Second, "simulated modems (sim: ports, -demo): time the network takes to accept an SMS")
	hintIssuer := fs.String("demo-hint-issuer", "", "demo: the issuer whose id_token_hints the demo's External MFA client accepts (default: the built-in Entra stand-in)")
	redirectURI := fs.String("demo-redirect-uri", "", "demo: one more redirect URI for the demo's External MFA client")
	restoreFrom := fs.String("restore", "", "put the database copy in `FILE` (mfagatectl backup) in place of store.path, then exit; the daemon must be stopped")
	force := fs.Bool("force", false, "-restore: replace an existing store.path (it is kept beside, renamed)")
	simAnswer := fs.Duration("sim-answer-after", 4*time.Second, "simulated modems: how long a virtual handset rings before it answers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "mfagated: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var cfg *config.Config
	var d *demoState
	var err error
	if *demo {
		d, err = prepareDemo(*stateDir)
		if err == nil {
			cfg = d.cfg
		}
	} else {
		cfg, err = config.Load(*configPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mfagated: %v\n", err)
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
		if err := cfg.Validate(); err != nil {
			fmt.Fprintf(stderr, "mfagated: -listen: %v\n", err)
			return 1
		}
	}
	if d != nil {
		if err := d.withOIDC(cfg, *hintIssuer, *redirectURI); err != nil {
			fmt.Fprintf(stderr, "mfagated: demo: %v\n", err)
			return 1
		}
	}
	if *restoreFrom != "" {
		if d != nil {
			fmt.Fprintln(stderr, "mfagated: -restore restores into the store of -config, not into a demo")
			return 2
		}
		if err := restore(context.Background(), cfg, *restoreFrom, *force, stdout); err != nil {
			fmt.Fprintf(stderr, "mfagated: %v\n", err)
			return 1
		}
		return 0
	}
	if *checkOnly {
		if _, err := loadKeys(cfg); err != nil {
			fmt.Fprintf(stderr, "mfagated: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *configPath)
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var reload func() (*config.Config, error)
	if d == nil {
		path, override := *configPath, *listen
		reload = func() (*config.Config, error) {
			c, err := config.Load(path)
			if err == nil && override != "" {
				c.Server.Listen = override
			}
			return c, err
		}
	}
	ln, err := listenOn(cfg.Server.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "mfagated: %v\n", err)
		return 1
	}
	defer ln.Close()
	if err := serve(ctx, ln, cfg, d, reload, simLatency{sms: *simSubmit, answer: *simAnswer}, log, stdout); err != nil {
		return 1
	}
	return 0
}

// serve runs the daemon on ln until ctx ends or the HTTP server dies; the
// latter is an error, so that systemd restarts the daemon.
//
// The components run on a context of their own that ends only after the
// HTTP server has drained: a request in flight at SIGTERM still finds the
// kiosk, the keys, the modems and the store. Teardown is in order: stop
// accepting, drain HTTP (server.shutdown_timeout), stop the kiosk, then
// keys, modems and loops, then the software key and the simulated modems,
// and close the store last.
func serve(ctx context.Context, ln net.Listener, cfg *config.Config, d *demoState, reload func() (*config.Config, error), lat simLatency, log *slog.Logger, stdout io.Writer) (err error) {
	node, err := nodeName(cfg)
	if err != nil {
		log.Error("mfagated stopped", "err", err)
		return err
	}
	log = log.With("node", node)
	// The last line, once everything (the store too) has been closed.
	defer func() {
		if err != nil {
			log.Error("mfagated stopped", "err", err)
		} else {
			log.Info("mfagated stopped")
		}
	}()
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	keys, err := loadKeys(cfg)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer db.Close()
	m := metrics.New()
	m.ConfigLoaded(true, time.Now())
	watchStore(m, db)
	svc, err := mfa.New(mfa.Options{Store: db, Keys: keys, Policy: policyFrom(cfg), Observer: m, Logger: log.With("component", "mfa"),
		Node: node, Lease: cfg.Store.Lease.Duration, Now: now})
	if err != nil {
		return err
	}
	m.WatchNodes(node, version(), svc.Lease())
	if n, err := svc.Recover(ctx); err != nil {
		return fmt.Errorf("recover outbox: %w", err)
	} else if n > 0 {
		log.Info("requeued deliveries interrupted by the last stop", "jobs", n)
	}
	// Simulated hardware stays plugged in until its cleanup runs, after
	// everything that uses it has stopped.
	hw := context.WithoutCancel(ctx)
	pool, simNet, stopSims, err := startModems(hw, cfg, svc, db, m, lat, log)
	if err != nil {
		return err
	}
	defer stopSims()
	m.WatchModems(pool.Status)
	demoDir := ""
	if d != nil {
		demoDir = d.dir
	}
	watcher, stopKeys, err := startKeys(hw, cfg, demoDir, log)
	if err != nil {
		return err
	}
	defer stopKeys()
	// Without a BLOB that verifies the daemon still starts: names and
	// status checks are off until a good one is downloaded, and the
	// metric and the log say so.
	mdf := newMetadataFile(m, log.With("component", "fido-metadata"))
	mdsrc, err := mdf.source(cfg.FIDO)
	if err != nil {
		return err
	}
	mdf.set(mdsrc)
	mdf.load(time.Now())
	kp, err := kioskPolicy(cfg.FIDO, mdf.metadata())
	if err != nil {
		return err
	}
	k := kiosk.New(kiosk.Options{Service: svc, Keys: kiosk.WatcherKeys(watcher), Policy: kp, Observer: m, Logger: log.With("component", "kiosk"),
		Store: kioskStore(db), Node: node})
	svc.SetWebAuthn(k.Verifier())
	apiLog := log.With("component", "api")
	oidcLog := log.With("component", "oidc")
	op, err := oidcProvider(ctx, cfg, db, keys, oidcLog)
	if err != nil {
		return err
	}
	mounts, err := privacyIDEADoor(cfg, svc, keys, m, log.With("component", "privacyidea"))
	if err != nil {
		return err
	}
	rs, rconn, err := radiusDoor(cfg, d != nil, svc, m, log.With("component", "radius"))
	if err != nil {
		return err
	}
	if rconn != nil {
		defer rconn.Close()
	}
	self, err := selfServiceDoor(cfg, db, mdf.metadata())
	if err != nil {
		return err
	}
	sealer := &resealer{}
	opts := api.Options{Service: svc, Clients: clientsFrom(cfg), Metrics: m, MetricsPublic: cfg.Server.MetricsPublic,
		Modems: pool, Kiosk: k, OIDC: op, SelfService: self, Console: consoleDoor(cfg, db), Mounts: mounts, Models: mdf.metadata().Describe, Readiness: modemReadiness(cfg, pool),
		Reseal: sealer.progress, Logger: apiLog}
	if b, ok := db.(interface {
		BackupTo(context.Context, io.Writer) error
	}); ok {
		opts.Backup = b.BackupTo
	}
	if d != nil && simNet != nil {
		opts.Demo = demoPhones{net: simNet, region: cfg.Policy.DefaultRegion}
	}
	srv := api.New(opts)

	// stopping ends on SIGTERM or when the server dies: it cuts reads
	// short (long polls, event streams), while writes in flight finish.
	stopping, stop := context.WithCancel(ctx)
	defer stop()
	handler := srv.Handler()
	if d != nil && d.entra != nil {
		mux := http.NewServeMux()
		d.entra.routes(mux)
		mux.Handle("/", handler)
		handler = mux
	}
	hs := &http.Server{
		Handler:           cutReadsShort(stopping, handler),
		ReadHeaderTimeout: min(5*time.Second, cfg.Server.ReadTimeout.Duration),
		ReadTimeout:       cfg.Server.ReadTimeout.Duration,
		WriteTimeout:      cfg.Server.WriteTimeout.Duration,
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return life },
		ErrorLog:          slog.NewLogLogger(apiLog.Handler(), slog.LevelWarn),
	}

	var wg sync.WaitGroup
	hk := &heartbeat{}
	retain := mfa.Retention{Challenges: cfg.Store.RetentionChallenges.Duration, Outbox: cfg.Store.RetentionOutbox.Duration,
		Audit: cfg.Store.RetentionAudit.Duration}
	wg.Go(func() { housekeeping(life, svc, m, hk, retain, log.With("component", "housekeeping")) })
	cl := &cluster{svc: svc, pool: pool, m: m, log: log.With("component", "cluster"), started: time.Now(), version: version()}
	wg.Go(func() { cl.run(life) })
	if op != nil {
		wg.Go(func() { oidcHousekeeping(life, op, oidcLog) })
	}
	if self != nil || cfg.Console != nil { // the console's staff sessions share the tables
		wg.Go(func() { selfServiceHousekeeping(life, db, log.With("component", "selfservice")) })
	}
	wg.Go(func() { listen(life, db, svc, pool, log.With("component", "cluster")) })
	wg.Go(func() { sealer.run(life, svc, keys, m, log.With("component", "secrets")) })
	// The pool drains its exchanges in flight once life ends.
	wg.Go(func() { pool.Run(life) })
	wg.Go(func() { watcher.Run(life) })
	if rs != nil {
		// Requests waiting for a call see life end and go unanswered;
		// the gateway asks again once the daemon is back.
		wg.Go(func() {
			if err := rs.Run(life, rconn); err != nil {
				log.Error("the RADIUS server stopped", "err", err)
			}
		})
	}
	// The kiosk stops first: its operations use the keys.
	kctx, stopKiosk := context.WithCancel(life)
	defer stopKiosk()
	kioskDone := make(chan struct{})
	go func() { defer close(kioskDone); k.Run(kctx) }()
	svc.SetSender(pool)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("mfagated ready", "listen", cfg.Server.Listen, "store", cfg.Store.Driver, "lease", svc.Lease())
	sd := notifier{log: log}
	sd.send(daemon.SdNotifyReady + "\nSTATUS=" + statusLine(pool))
	wg.Go(func() { watchdog(life, sd, hk, svc, pool) })
	wg.Go(func() { mdf.run(life) })
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Go(func() {
		running := cfg // owned by this goroutine from here on
		for {
			select {
			case <-life.Done():
				return
			case <-hup:
				sd.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
				running = reloadConfig(running, reload, svc, srv, k, mdf, m, log)
				sd.send(daemon.SdNotifyReady)
			}
		}
	})
	if d != nil {
		url := listenURL(ln)
		unpublish, perr := d.publishURL(url)
		if perr != nil {
			log.Warn("the demo's address is not in its state directory", "err", perr)
		} else {
			defer unpublish()
		}
		d.announce(stdout, url)
	}

	select {
	case err = <-served:
		// Nothing answers the API any more; a daemon that lingers would
		// keep feeding the watchdog while every request fails.
		err = fmt.Errorf("the HTTP server stopped: %w", err)
		log.Error("the HTTP server stopped; stopping so that systemd restarts the daemon", "err", err)
		sd.send(daemon.SdNotifyStopping + "\nSTATUS=HTTP server stopped")
	case <-ctx.Done():
		log.Info("stopping: draining requests", "timeout", cfg.Server.ShutdownTimeout.Duration)
		sd.send(daemon.SdNotifyStopping)
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil {
		log.Warn("requests still running at the shutdown timeout are cut off", "err", serr)
		hs.Close()
	}
	if err == nil {
		<-served // http.ErrServerClosed
	}
	stopKiosk()
	<-kioskDone
	endLife()
	wg.Wait()
	return err
}

// cutReadsShort ends the context of GET and HEAD requests when stopping
// ends: a long poll or an event stream would otherwise hold the drain until
// its timeout, and its client simply asks again. Other requests change
// state and run to their end (or the shutdown timeout).
func cutReadsShort(stopping context.Context, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(stopping, cancel)()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Pruning runs pruneFirst after the start, then every prunePeriod, for at
// most pruneBudget a round: the rest of a backlog (a first start with a
// year of rows) waits for the next round, so that sweeps are never more
// than pruneBudget late.
const (
	pruneFirst  = 2 * time.Second
	prunePeriod = 10 * time.Second
	pruneBudget = 2 * time.Second
)

// housekeeping expires challenges, activates users, deletes records older
// than retain keeps them and refreshes the user-count gauge until ctx ends.
func housekeeping(ctx context.Context, svc *mfa.Service, m *metrics.Metrics, hk *heartbeat, retain mfa.Retention, log *slog.Logger) {
	sweep := time.NewTicker(2 * time.Second)
	defer sweep.Stop()
	count := time.NewTicker(15 * time.Second)
	defer count.Stop()
	prune := time.NewTimer(pruneFirst)
	defer prune.Stop()
	pruneRound := func() {
		p, err := svc.Prune(ctx, retain, pruneBudget)
		m.AddPruned(p)
		if n := p.Challenges + p.Outbox + p.Audit; n > 0 {
			log.Info("retention deleted old records", "challenges", p.Challenges, "outbox", p.Outbox, "audit", p.Audit)
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, mfa.ErrUnavailable) {
			log.Warn("pruning failed", "err", err)
		}
	}
	refresh := func() {
		if n, err := svc.CountUsers(ctx); err == nil {
			m.SetUsers(n)
		}
		if o, err := svc.OutboxStats(ctx); err == nil {
			m.SetOutbox(o, time.Now())
		}
	}
	refresh()
	hk.beat()
	unreachable := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			switch err := svc.Sweep(ctx); {
			case err == nil:
				hk.beat()
				if unreachable {
					log.Info("the database answers again")
					unreachable = false
				}
			case errors.Is(err, mfa.ErrUnavailable):
				// The loop runs; the database does not answer. Said once.
				hk.beat()
				if !unreachable {
					log.Warn("the database is unreachable: requests get 503, modems finish what they hold and wait", "err", err)
					unreachable = true
				}
			case ctx.Err() == nil:
				log.Warn("housekeeping failed", "err", err)
			}
			if o, err := svc.OutboxStats(ctx); err == nil {
				m.SetOutbox(o, time.Now())
			}
		case <-count.C:
			refresh()
		case <-prune.C:
			pruneRound()
			prune.Reset(prunePeriod)
		}
	}
}

// listenOn binds "host:port" or "unix:/path". A stale socket file left by
// a previous run is replaced; the socket is made group-accessible only.
func listenOn(addr string) (net.Listener, error) {
	path, isUnix := (config.Server{Listen: addr}).IsUnix()
	if !isUnix {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		return ln, nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict unix socket %s: %w", path, err)
	}
	return ln, nil
}
