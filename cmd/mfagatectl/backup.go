package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

func setupBackup(fs *flag.FlagSet) action {
	force := fs.Bool("force", false, "replace FILE if it exists")
	return func(e *env, args []string) error {
		dst := args[0]
		if _, err := os.Lstat(dst); err == nil && !*force {
			return usagef("%s exists: choose a new name, or pass -force to replace it", dst)
		}
		c, err := e.client()
		if err != nil {
			return err
		}
		// Written beside FILE under another name, mode 0600, and renamed
		// once whole: FILE is never a partial copy.
		tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if err := tmp.Chmod(0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		n, err := c.download(e, "/v1/backup", tmp)
		if err != nil {
			return err
		}
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("backup: write %s: %w", tmp.Name(), err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("backup: write %s: %w", tmp.Name(), err)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fmt.Fprintf(e.stdout, "wrote %s (%d bytes, mode 0600): the database; the server key file is not in it, back it up separately\n", dst, n)
		return nil
	}
}

// download streams the body of a GET to w and checks that it is an SQLite
// database file.
func (c *client) download(e *env, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(e.ctx, "GET", strings.TrimSuffix(c.base.String(), "/")+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/vnd.sqlite3, application/problem+json")
	req.Header.Set("User-Agent", "mfagatectl")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, c.transportError("GET", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		return 0, problemFrom(resp, raw)
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return 0, fmt.Errorf("GET %s: the answer is not an SQLite database; is -url %s an mfagate gateway?", path, c.display)
	}
	n, err := io.Copy(w, io.MultiReader(bytes.NewReader(head), resp.Body))
	if err != nil {
		return n, c.transportError("GET", path, err)
	}
	return n, nil
}
