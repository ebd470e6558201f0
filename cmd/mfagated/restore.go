package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mfagate/config"
	"mfagate/store/sqlite"
)

// restore puts the database copy in file (mfagatectl backup) in place of
// cfg's store. It refuses, changing nothing, a file that is not an mfagate
// database, one of a newer schema, one sealed with a key cfg does not
// have, and a store that is in use or, without force, exists. With force
// the database it replaces is kept beside it, renamed.
func restore(ctx context.Context, cfg *config.Config, file string, force bool, stdout io.Writer) error {
	if cfg.Store.Driver == config.DriverPostgres {
		return errors.New("-restore: store.driver is postgres: restore a PostgreSQL database with pg_restore (or point-in-time recovery), not with mfagated")
	}
	target := cfg.Store.Path
	if target == "" || target == ":memory:" {
		return fmt.Errorf("-restore: store.path %q is not a database file to restore into", target)
	}
	if abs, err := filepath.Abs(file); err == nil && abs == target {
		return fmt.Errorf("-restore: %s is store.path itself; restore from a copy made with mfagatectl backup", file)
	}
	info, err := sqlite.Inspect(ctx, file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("-restore: %s does not exist", file)
	case errors.Is(err, sqlite.ErrNotDatabase):
		return fmt.Errorf("-restore: %w; give a file written by mfagatectl backup", err)
	case err != nil:
		return fmt.Errorf("-restore: %w", err)
	case info.Version > info.Latest:
		return fmt.Errorf("-restore: %s has schema version %d, newer than this mfagated's %d: restore it with the mfagated that made it (or a newer one)", file, info.Version, info.Latest)
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	for _, v := range info.Sealed {
		if _, err := keys.Open(v.Sealed, v.Context); err != nil {
			return fmt.Errorf("-restore: %s was sealed with a key this configuration does not have (a value in %s does not open with secrets.key_file or any of secrets.previous_key_files): give the key file it was made with as key_file, or list it in previous_key_files", file, v.Table)
		}
	}
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		for _, side := range []string{target + "-wal", target + "-shm"} {
			if _, err := os.Lstat(side); err == nil {
				return fmt.Errorf("-restore: %s is left without its database %s: SQLite would apply it to the restored one; move it away first", side, target)
			}
		}
	} else if err == nil {
		if !force {
			return fmt.Errorf("-restore: store.path %s exists: stop mfagated and pass -force to replace it (it is kept beside, renamed)", target)
		}
		if err := releaseWAL(ctx, target); err != nil {
			return fmt.Errorf("-restore: %w", err)
		}
	}

	// Copy beside the target, then rename into place: the target is never
	// half-written.
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".restore-*")
	if err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	src, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	defer src.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	if err := sameOwner(tmp, target); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		return fmt.Errorf("-restore: copy %s: %w", file, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	kept := ""
	if _, err := os.Lstat(target); err == nil {
		kept = target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(target, kept); err != nil {
			return fmt.Errorf("-restore: keep the database replaced: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	// Opening applies the migrations of this build to an older copy.
	db, err := sqlite.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("-restore: the restored database does not open: %w", err)
	}
	db.Close()
	fmt.Fprintf(stdout, "restored %s to %s (schema version %d)\n", file, target, info.Version)
	if kept != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s\n", kept)
	}
	if len(info.Sealed) == 0 {
		fmt.Fprintln(stdout, "it holds no sealed value, so no key could be checked against it")
	}
	return nil
}

// releaseWAL makes sure no process has path open and folds its WAL into
// it: leaving WAL mode needs the only connection, and a WAL file left
// beside a replaced database would be applied to the new one.
func releaseWAL(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	err = db.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode)
	if err != nil && strings.Contains(err.Error(), "locked") || err == nil && mode != "delete" {
		return fmt.Errorf("store.path %s is in use: stop mfagated (systemctl stop mfagated) and try again", path)
	}
	if err != nil {
		return fmt.Errorf("store.path %s: %w", path, err)
	}
	return nil
}

// sameOwner gives f the owner of the database it replaces, else of the
// directory it goes into, so that a restore run as root leaves a file the
// daemon's user can open.
func sameOwner(f *os.File, target string) error {
	fi, err := os.Stat(target)
	if err != nil {
		fi, err = os.Stat(filepath.Dir(target))
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil // only root can give a file away; anyone else owns it already
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
