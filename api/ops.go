package api

import (
	"net/http"

	"mfagate/mfa"
)

// codeBackupUnsupported refuses GET /v1/backup on a store the gateway
// does not copy itself (PostgreSQL: pg_dump or point-in-time recovery).
const codeBackupUnsupported = "backup_unsupported"

type secretsJSON struct {
	PreviousKeys       int  `json:"previous_keys"`
	SealedWithPrevious int  `json:"sealed_with_previous"`
	Resealed           int  `json:"resealed"`
	Unreadable         int  `json:"unreadable"`
	Running            bool `json:"running"`
	Done               bool `json:"done"`
}

// secrets answers where the re-seal after a server key rotation stands.
func (s *Server) secrets(w http.ResponseWriter, r *http.Request, _ *Client) error {
	var p mfa.ResealProgress
	if s.reseal != nil {
		p = s.reseal()
	} else {
		p.Done = true
	}
	return writeJSON(w, http.StatusOK, secretsJSON{PreviousKeys: p.PreviousKeys, SealedWithPrevious: p.Pending, Resealed: p.Resealed,
		Unreadable: p.Unreadable, Running: p.Running, Done: p.Done})
}

// backup streams a consistent copy of the SQLite database, made while the
// gateway keeps serving. The copy holds sealed secrets and keyed hashes,
// never the key: back the key file up separately.
func (s *Server) backup(w http.ResponseWriter, r *http.Request, _ *Client) error {
	if s.backupTo == nil {
		return newProblem(http.StatusConflict, codeBackupUnsupported,
			"this gateway's store is PostgreSQL, which the gateway does not copy: back it up with pg_dump (or continuous archiving for point-in-time recovery), and the server key file separately")
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.sqlite3")
	h.Set("Content-Disposition", `attachment; filename="mfagate-backup.db"`)
	h.Set("Cache-Control", "no-store")
	return s.backupTo(r.Context(), w)
}
