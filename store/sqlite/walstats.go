package sqlite

import (
	"encoding/binary"
	"os"
	"sync/atomic"
)

// writeStats counts the writer's commits and the WAL frames they wrote,
// for mfagate_store_commits_total and mfagate_store_wal_frames_total.
//
// Frames are read from the WAL index (the -shm file) rather than from a
// WAL hook, which the driver does not offer, and without running a
// checkpoint: after each commit the writer reads mxFrame, the index of
// the last valid frame in the WAL, from the index header (a WalIndexHdr at
// offset 0, mxFrame a native-endian u32 at byte 16; sqlite.org/walformat.html
// §2.1). The difference from the value after the previous commit is what
// the commit wrote; a smaller value means the WAL was restarted from its
// beginning after a complete checkpoint, and then all of it is new. Only
// the writer writes frames, so nothing is missed between two reads (an
// automatic checkpoint restarts the WAL only after at least
// wal_autocheckpoint frames, more than any transaction of the daemon
// writes, so a restart is never mistaken for growth).
type writeStats struct {
	commits atomic.Uint64
	frames  atomic.Uint64
	// Used by the writer only (one batch at a time).
	shm  *os.File
	path string
	last uint32
}

// open starts counting frames of the database file path from now.
func (s *writeStats) open(path string) {
	s.path = path + "-shm"
	s.last, _ = s.mxFrame()
}

// mxFrame reads the WAL index header's mxFrame.
func (s *writeStats) mxFrame() (uint32, bool) {
	if s.shm == nil {
		f, err := os.Open(s.path)
		if err != nil {
			return 0, false
		}
		s.shm = f
	}
	var b [4]byte
	if _, err := s.shm.ReadAt(b[:], 16); err != nil {
		return 0, false
	}
	return binary.NativeEndian.Uint32(b[:]), true
}

// committed counts one commit of the writer and the frames it wrote.
func (s *writeStats) committed() {
	s.commits.Add(1)
	mx, ok := s.mxFrame()
	if !ok {
		return
	}
	if mx >= s.last {
		s.frames.Add(uint64(mx - s.last))
	} else {
		s.frames.Add(uint64(mx))
	}
	s.last = mx
}

func (s *writeStats) close() {
	if s.shm != nil {
		s.shm.Close()
		s.shm = nil
	}
}

// WriteStats reports the commits of write transactions since db was
// opened and the WAL frames they wrote.
func (db *DB) WriteStats() (commits, walFrames uint64) {
	return db.stats.commits.Load(), db.stats.frames.Load()
}
