package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"mfagate/config"
	"mfagate/fido"
	"mfagate/metrics"
)

// metadataFile keeps the FIDO metadata in use current from [fido]
// mds_file: it reads the file at start, every mds_refresh and on SIGHUP. A
// BLOB that does not verify is not taken; the one in use stays.
type metadataFile struct {
	md  *fido.Metadata
	m   *metrics.Metrics
	log *slog.Logger

	mu    sync.Mutex // guards the fields below: set by reloads, read by run
	path  string
	root  *x509.Certificate
	every time.Duration

	kick chan struct{}
}

func newMetadataFile(m *metrics.Metrics, log *slog.Logger) *metadataFile {
	return &metadataFile{md: &fido.Metadata{}, m: m, log: log, kick: make(chan struct{}, 1)}
}

// metadata returns the metadata policies point to (nil without a file
// holder, as in tests that build policies alone).
func (f *metadataFile) metadata() *fido.Metadata {
	if f == nil {
		return nil
	}
	return f.md
}

// metadataSource is where and how often the BLOB is read.
type metadataSource struct {
	path  string
	root  *x509.Certificate // nil: go-webauthn's production root
	every time.Duration
}

// source takes mds_file, mds_root_file and mds_refresh from a
// configuration Validate accepted. It fails only if the root file cannot be
// read any more.
func (f *metadataFile) source(c config.FIDO) (metadataSource, error) {
	src := metadataSource{path: c.MDSFile, every: c.MDSRefresh.Duration}
	if c.MDSRootFile != "" {
		certs, err := readCerts(c.MDSRootFile, "fido.mds_root_file")
		if err != nil {
			return src, err
		}
		if len(certs) != 1 {
			return src, fmt.Errorf("fido.mds_root_file %s holds %d certificates, want 1", c.MDSRootFile, len(certs))
		}
		src.root = certs[0]
	}
	return src, nil
}

// set makes src the source read from now on.
func (f *metadataFile) set(src metadataSource) {
	f.mu.Lock()
	f.path, f.root, f.every = src.path, src.root, src.every
	f.mu.Unlock()
}

// use makes src the source and has run read it again now.
func (f *metadataFile) use(src metadataSource) {
	if f == nil {
		return
	}
	f.set(src)
	f.reread()
}

// load reads the file and takes its BLOB if it verifies. Without mds_file
// it drops the BLOB in use.
func (f *metadataFile) load(now time.Time) {
	f.mu.Lock()
	path, root := f.path, f.root
	f.mu.Unlock()
	if path == "" {
		f.md.Set(nil)
		f.m.FIDOMetadata(false, false, time.Time{})
		return
	}
	data, err := os.ReadFile(path)
	var b *fido.MetadataBLOB
	if err == nil {
		b, err = f.md.Update(data, root)
	}
	if err != nil {
		var next time.Time
		if cur := f.md.Current(); cur != nil {
			next = cur.NextUpdate
		}
		f.m.FIDOMetadata(true, false, next)
		if errors.Is(err, os.ErrNotExist) || next.IsZero() {
			f.log.Error("FIDO metadata unavailable: authenticator names and status checks are off", "file", path, "err", err)
		} else {
			f.log.Error("FIDO metadata BLOB refused; keeping the previous one", "file", path, "err", err, "next_update", next.Format(time.DateOnly))
		}
		return
	}
	f.m.FIDOMetadata(true, true, b.NextUpdate)
	if now.After(b.NextUpdate) {
		f.log.Warn("FIDO metadata BLOB is past its nextUpdate; using it until a newer one is downloaded", "file", path, "no", b.Number, "next_update", b.NextUpdate.Format(time.DateOnly))
	} else {
		f.log.Info("FIDO metadata loaded", "file", path, "no", b.Number, "models", b.Models(), "unparsed", b.Unparsed, "next_update", b.NextUpdate.Format(time.DateOnly))
	}
}

// reread asks run to read the file again now.
func (f *metadataFile) reread() {
	if f == nil {
		return
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run re-reads the file every mds_refresh and when asked, until ctx ends.
func (f *metadataFile) run(ctx context.Context) {
	for {
		f.mu.Lock()
		every := f.every
		f.mu.Unlock()
		if every <= 0 {
			every = 24 * time.Hour
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-f.kick:
			t.Stop()
		}
		f.load(time.Now())
	}
}
