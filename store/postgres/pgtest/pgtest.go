// Package pgtest runs a throw-away PostgreSQL server for tests: a new
// cluster in a temporary directory, reachable only through a unix socket
// there, with fsync off, removed again by Stop. Tests connect as the role
// "mfagate", which owns the databases it makes and authenticates with a
// password from a file, as a gateway node does; the superuser "postgres"
// needs no password.
//
// As root, the server runs as the "postgres" system user (PostgreSQL
// refuses to run as root). The binaries are taken from $MFAGATE_PG_BIN, else
// the newest /usr/lib/postgresql/*/bin (Debian's postgresql package), else
// $PATH.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoServer means the PostgreSQL server binaries are not installed.
var ErrNoServer = errors.New("PostgreSQL server binaries (initdb, postgres) not found: install Debian's postgresql package (scripts/deps.sh) or set MFAGATE_PG_BIN")

// Role is the unprivileged role tests connect as.
const Role = "mfagate"

// Server is a running throw-away cluster.
type Server struct {
	dir      string // everything: data directory, socket, log, password file
	password string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the server process has exited
	bin      string
	cred     *syscall.Credential
	n        atomic.Int64
}

// BinDir finds the directory holding initdb and postgres.
func BinDir() (string, error) {
	if d := os.Getenv("MFAGATE_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			return "", fmt.Errorf("MFAGATE_PG_BIN: %w", err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoServer
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start makes and starts a new cluster. ErrNoServer when PostgreSQL is not
// installed.
func Start(ctx context.Context) (_ *Server, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mfagate-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb in %s (the server's user must be able to reach it): %w\n%s", dir, err, out)
	}
	// The superuser over the socket without a password; every other role
	// with one.
	hba := "local all postgres trust\nlocal all all scram-sha-256\n"
	if err := writeAs(filepath.Join(data, "pg_hba.conf"), hba, 0o600, cred); err != nil {
		return nil, err
	}
	s.bin, s.cred = bin, cred
	if err := s.run(ctx); err != nil {
		return nil, err
	}
	var pw [16]byte
	rand.Read(pw[:])
	s.password = hex.EncodeToString(pw[:])
	if err := os.WriteFile(s.PasswordFile(), []byte(s.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := s.createRole(ctx, Role, s.password); err != nil {
		return nil, fmt.Errorf("create role %s: %w", Role, err)
	}
	return s, nil
}

// run starts the server process on the cluster and waits until it
// accepts connections.
func (s *Server) run(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-k", s.dir, "-p", "5432",
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Pdeathsig: a test binary that dies does not leave a server behind.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited, cmd := make(chan struct{}), s.cmd
	s.exited = exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return s.waitReady(ctx)
}

// Halt stops the server (fast shutdown: every session is ended, as in a
// database restart or failover) and keeps the cluster; Resume starts it
// again.
func (s *Server) Halt() error { return s.halt() }

// Resume starts the server again on the cluster Halt stopped.
func (s *Server) Resume(ctx context.Context) error { return s.run(ctx) }

// halt stops the server process, killing it after 30 s.
func (s *Server) halt() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return errors.New("postgres did not shut down within 30s: killed")
	}
}

// serverUser is who the server runs as: nil for the current user, the
// postgres system user when that is root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user to run it as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func writeAs(name, content string, mode os.FileMode, cred *syscall.Credential) error {
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(name, int(cred.Uid), int(cred.Gid))
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.AdminDSN("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited while starting: %s", s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections: %v: %s", err, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// admin runs fn on a connection of the superuser.
func (s *Server) admin(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, s.AdminDSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// createRole makes a login role with a password. Role names and passwords
// cannot be statement parameters: the server quotes them with format().
func (s *Server) createRole(ctx context.Context, name, password string) error {
	return s.admin(ctx, func(conn *pgx.Conn) error {
		var stmt string
		err := conn.QueryRow(ctx, `SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)`, name, password).Scan(&stmt)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, stmt)
		return err
	})
}

// Dir is the cluster's directory; its socket is there.
func (s *Server) Dir() string { return s.dir }

// PasswordFile holds the password of Role.
func (s *Server) PasswordFile() string { return filepath.Join(s.dir, "password") }

// AdminDSN connects to db as the superuser.
func (s *Server) AdminDSN(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", s.dir, db)
}

// DSN connects to db as Role; the password is in PasswordFile.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=%s dbname=%s sslmode=disable", s.dir, Role, db)
}

// NewDatabase creates an empty database owned by Role and returns its name.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", s.n.Add(1))
	err := s.admin(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` OWNER `+pgx.Identifier{Role}.Sanitize())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// removes its directory.
func (s *Server) Stop() error {
	return errors.Join(s.halt(), os.RemoveAll(s.dir))
}
