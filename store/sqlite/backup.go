package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"mfagate/mfa"
	"mfagate/store"
)

// Backup writes a consistent copy of the database to dst, a file that must
// not exist yet, with VACUUM INTO on a read connection: the copy is one
// snapshot of the WAL database, taken without holding up writers. The copy
// is made readable by its owner only.
func (db *DB) Backup(ctx context.Context, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("sqlite: backup %s: the file exists", dst)
	}
	// Created empty with mode 0600 first, so that the copy is never
	// readable by others, whatever the umask: VACUUM INTO writes into an
	// empty file.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	f.Close()
	conn, err := db.r.Conn(ctx)
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer conn.Close()
	// query_only guards the read pool against writes; VACUUM INTO writes
	// only the new file, but SQLite counts it a write, so lift it here.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = 1`)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("sqlite: backup into %s: %w", dst, err)
	}
	return os.Chmod(dst, 0o600)
}

// BackupTo streams a consistent copy of the database to w, made in a
// private directory beside the database and removed afterwards.
func (db *DB) BackupTo(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp(path.Dir(db.path), ".mfagate-backup-")
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := path.Join(dir, "copy.db")
	if err := db.Backup(ctx, tmp); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("sqlite: send backup: %w", err)
	}
	return nil
}

// Info describes a database file, read without changing it.
type Info struct {
	Version int // newest migration applied
	Latest  int // newest migration this build knows
	// Sealed are a few of the values sealed at rest, to tell whether a key
	// opens them; none when the database holds no sealed value.
	Sealed []mfa.SealedValue
}

// ErrNotDatabase is returned by Inspect for a file that is not an
// mfagate SQLite database.
var ErrNotDatabase = errors.New("not an mfagate database")

// Inspect reads path's schema version and a sample of its sealed values,
// opening it read-only.
func Inspect(ctx context.Context, p string) (Info, error) {
	var info Info
	head := make([]byte, 16)
	f, err := os.Open(p)
	if err != nil {
		return info, err
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return info, fmt.Errorf("%s: %w: it is not an SQLite database file", p, ErrNotDatabase)
	}
	dsn := "file:" + (&url.URL{Path: p}).EscapedPath() + "?mode=ro&" + url.Values{"_pragma": {"query_only(1)"}}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return info, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('schema_migrations', 'users', 'methods', 'challenges', 'outbox')`).Scan(&tables); err != nil {
		return info, fmt.Errorf("%s: %w: %v", p, ErrNotDatabase, err)
	}
	if tables != 5 {
		return info, fmt.Errorf("%s: %w: it is an SQLite database without mfagate's tables", p, ErrNotDatabase)
	}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&info.Version); err != nil {
		return info, fmt.Errorf("%s: read schema version: %w", p, err)
	}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, f := range files {
		if v, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0]); err == nil {
			info.Latest = max(info.Latest, v)
		}
	}
	if info.Version > info.Latest {
		return info, nil // its tables may not be what this build reads
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return info, err
	}
	defer tx.Rollback()
	t := store.NewTx(newConn(ctx, tx, nil), &dialect)
	for _, table := range mfa.SealedTables {
		vs, err := t.SealedValues(table, "", 3)
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			return info, fmt.Errorf("%s: read sealed values: %w", p, err)
		}
		info.Sealed = append(info.Sealed, vs...)
	}
	return info, nil
}
