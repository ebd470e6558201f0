package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ErrSchemaNewer is returned by Migrate for a database that a newer
// mfagated has migrated: this one must not use it.
var ErrSchemaNewer = errors.New("the database has a newer schema")

// Migrate brings the schema of the database behind c to the newest of the
// files migrations/NNNN_what.sql in fsys, in c's transaction. It records
// each file it applies in schema_migrations, which createTable creates when
// missing. Every file not yet applied runs, in order, even one numbered
// below the newest applied (written alongside it on another branch). script
// runs the statements of one file.
func Migrate(c Conn, fsys fs.FS, createTable string, script func(string) error) error {
	if _, err := c.Exec(createTable); err != nil {
		return c.Err("create schema_migrations", err)
	}
	versions, err := list(c, "read schema version", func(row Row) (v int, err error) { return v, row.Scan(&v) },
		`SELECT version FROM schema_migrations`)
	if err != nil {
		return err
	}
	applied, current := map[int]bool{}, 0
	for _, v := range versions {
		applied[v], current = true, max(current, v)
	}
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	latest := 0
	for _, f := range files {
		name := path.Base(f)
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return c.Err("read migrations", fmt.Errorf("migration %s has no numeric prefix", name))
		}
		latest = max(latest, v)
		if applied[v] {
			continue
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		if err := script(string(body)); err != nil {
			return c.Err("apply migration "+name, err)
		}
		if _, err := c.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, v); err != nil {
			return c.Err(fmt.Sprintf("record migration %d", v), err)
		}
	}
	if current > latest {
		return c.Err("check schema version", fmt.Errorf("%w: schema version %d but this mfagated knows only up to %d", ErrSchemaNewer, current, latest))
	}
	return nil
}
