package softkey

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const stateVersion = 2

// stateFile is the on-disk form of a key's persistent state. It holds
// private keys: it is for the demo's convenience, never for real users.
type stateFile struct {
	Version     int          `json:"version"`
	AAGUID      []byte       `json:"aaguid"`
	Master      []byte       `json:"master"`
	PINHash     []byte       `json:"pin_hash,omitempty"`
	PINRetries  int          `json:"pin_retries"`
	PINLen      int          `json:"pin_len,omitempty"`
	MinPINLen   int          `json:"min_pin_len"`
	ForceChange bool         `json:"force_pin_change,omitempty"`
	MinPINRPs   []string     `json:"min_pin_rp_ids,omitempty"`
	SignCount   uint32       `json:"sign_count"`
	Seq         uint64       `json:"seq"`
	Resident    []storedCred `json:"resident"`
	CAKey       []byte       `json:"ca_key"`
	CACert      []byte       `json:"ca_cert"`
	AttKey      []byte       `json:"att_key"`
	AttCert     []byte       `json:"att_cert"`
}

type storedCred struct {
	ID          []byte `json:"id"`
	RPID        string `json:"rp_id"`
	RPName      string `json:"rp_name,omitempty"`
	UserID      []byte `json:"user_id"`
	UserName    string `json:"user_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Key         []byte `json:"key"`
	CredProtect byte   `json:"cred_protect"`
	HMACSecret  bool   `json:"hmac_secret,omitempty"`
	Created     uint64 `json:"created"`
}

// loadState reads path. A missing file yields (nil, nil, nil): start fresh.
func loadState(path string, cfg coreConfig, now func() time.Time) (*authenticator, *attestation, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("softkey: read state: %w", err)
	}
	var s stateFile
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, nil, fmt.Errorf("softkey: state file %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, nil, fmt.Errorf("softkey: state file %s has version %d, want %d", path, s.Version, stateVersion)
	}
	if len(s.Master) != 32 || (s.PINHash != nil && len(s.PINHash) != 16) ||
		s.PINRetries < 0 || s.PINRetries > maxPINRetries {
		return nil, nil, fmt.Errorf("softkey: state file %s: master key, PIN hash or retries out of range", path)
	}
	att := &attestation{}
	if att.caKey, err = parseECKey(s.CAKey); err != nil {
		return nil, nil, fmt.Errorf("softkey: state file %s: ca_key: %w", path, err)
	}
	if att.caCert, err = x509.ParseCertificate(s.CACert); err != nil {
		return nil, nil, fmt.Errorf("softkey: state file %s: ca_cert: %w", path, err)
	}
	if att.key, err = parseECKey(s.AttKey); err != nil {
		return nil, nil, fmt.Errorf("softkey: state file %s: att_key: %w", path, err)
	}
	att.certDER = s.AttCert
	if string(s.AAGUID) != string(cfg.aaguid[:]) {
		// The model identity changed: certify it under the same CA.
		if err := att.issueLeaf(cfg.aaguid, now()); err != nil {
			return nil, nil, fmt.Errorf("softkey: %w", err)
		}
	}
	a := newAuthenticator(cfg, att, now)
	a.master = s.Master
	a.pinHash = s.PINHash
	a.pinRetries = s.PINRetries
	a.pinLen = s.PINLen
	a.forceChange = s.ForceChange
	a.minPINRPs = s.MinPINRPs
	// The configured minimum can only be raised by the key's own state.
	a.minPINLen = max(cfg.minPINLen, s.MinPINLen)
	a.signCount = s.SignCount
	a.seq = s.Seq
	for i, c := range s.Resident {
		priv, err := p256FromScalar(c.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("softkey: state file %s: resident credential %d: %w", path, i, err)
		}
		a.resident = append(a.resident, &residentCred{
			id:          c.ID,
			rpID:        c.RPID,
			rpName:      c.RPName,
			user:        userEntity{ID: c.UserID, Name: c.UserName, DisplayName: c.DisplayName},
			priv:        priv,
			credProtect: c.CredProtect,
			hmacSecret:  c.HMACSecret,
			created:     c.Created,
		})
	}
	return a, att, nil
}

func parseECKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// saveState writes the state atomically (temporary file, then rename).
func saveState(path string, a *authenticator, att *attestation) error {
	caKey, err := x509.MarshalECPrivateKey(att.caKey)
	if err != nil {
		return fmt.Errorf("encode ca key: %w", err)
	}
	attKey, err := x509.MarshalECPrivateKey(att.key)
	if err != nil {
		return fmt.Errorf("encode attestation key: %w", err)
	}
	s := stateFile{
		Version:     stateVersion,
		AAGUID:      a.cfg.aaguid[:],
		Master:      a.master,
		PINHash:     a.pinHash,
		PINRetries:  a.pinRetries,
		PINLen:      a.pinLen,
		MinPINLen:   a.minPINLen,
		ForceChange: a.forceChange,
		MinPINRPs:   a.minPINRPs,
		SignCount:   a.signCount,
		Seq:         a.seq,
		CAKey:       caKey,
		CACert:      att.caCert.Raw,
		AttKey:      attKey,
		AttCert:     att.certDER,
	}
	for _, r := range a.resident {
		s.Resident = append(s.Resident, storedCred{
			ID:          r.id,
			RPID:        r.rpID,
			RPName:      r.rpName,
			UserID:      r.user.ID,
			UserName:    r.user.Name,
			DisplayName: r.user.DisplayName,
			Key:         scalarOf(r.priv),
			CredProtect: r.credProtect,
			HMACSecret:  r.hmacSecret,
			Created:     r.created,
		})
	}
	raw, err := json.Marshal(&s)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".softkey-state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}
