package fido

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
)

// MetadataBLOB is a FIDO Metadata Service (MDS3) BLOB whose JWT signature
// chains to the configured root: the authenticator models it names, by
// AAGUID, with their names and status reports.
type MetadataBLOB struct {
	// Number is the BLOB's serial number ("no"), NextUpdate the date by
	// which the FIDO Alliance promises a newer one.
	Number     int
	NextUpdate time.Time
	// Unparsed counts entries go-webauthn could not parse; they are left
	// out (production BLOBs carry a few malformed entries).
	Unparsed int
	models   map[[16]byte]Authenticator
}

// Authenticator is one model from the metadata.
type Authenticator struct {
	AAGUID [16]byte
	// Name is the metadata statement's description, e.g. "YubiKey 5 NFC".
	Name          string
	StatusReports []metadata.StatusReport
}

// RefusedStatus returns the first status in effect at t that go-webauthn
// counts as undesired (metadata.IsUndesiredAuthenticatorStatus: REVOKED,
// RETIRED, ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS,
// USER_KEY_REMOTE_COMPROMISE, USER_KEY_PHYSICAL_COMPROMISE), or "".
// Undesired statuses count even when a later report exists: a compromise
// is not retracted, only sunset.
func (a Authenticator) RefusedStatus(t time.Time) string {
	for _, r := range metadata.EffectiveStatusReports(a.StatusReports, t) {
		if metadata.IsUndesiredAuthenticatorStatus(r.Status) {
			return string(r.Status)
		}
	}
	return ""
}

// Models returns how many models with an AAGUID the BLOB names.
func (b *MetadataBLOB) Models() int { return len(b.models) }

// Lookup returns the model with this AAGUID.
func (b *MetadataBLOB) Lookup(aaguid [16]byte) (Authenticator, bool) {
	a, ok := b.models[aaguid]
	return a, ok
}

// VerifyMetadata verifies a BLOB as downloaded from
// https://mds3.fidoalliance.org/ (a JWT whose x5c chain must lead to root)
// and parses its entries. root nil means go-webauthn's
// metadata.ProductionMDSRoot, the root the FIDO Alliance's production BLOB
// chains to. An expired NextUpdate is not an error here: the caller decides.
func VerifyMetadata(blob []byte, root *x509.Certificate) (*MetadataBLOB, error) {
	opts := []metadata.DecoderOption{metadata.WithIgnoreEntryParsingErrors()}
	if root != nil {
		opts = append(opts, metadata.WithRootCertificate(base64.StdEncoding.EncodeToString(root.Raw)))
	}
	d, err := metadata.NewDecoder(opts...)
	if err != nil {
		return nil, fmt.Errorf("metadata decoder: %w", err)
	}
	payload, err := d.DecodeBytes(blob)
	if err != nil {
		return nil, fmt.Errorf("the metadata BLOB does not verify (a JWT signed by a certificate chaining to the MDS root): %s", describe(err))
	}
	md, err := d.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("the metadata BLOB's payload does not parse: %w", err)
	}
	b := &MetadataBLOB{Number: md.Parsed.Number, NextUpdate: md.Parsed.NextUpdate, Unparsed: len(md.Unparsed),
		models: map[[16]byte]Authenticator{}}
	for _, e := range md.Parsed.Entries {
		if e.AaGUID == [16]byte{} {
			continue // U2F and UAF models, named by key identifiers or AAID
		}
		b.models[e.AaGUID] = Authenticator{AAGUID: e.AaGUID, Name: e.MetadataStatement.Description, StatusReports: e.StatusReports}
	}
	return b, nil
}

// Metadata is the BLOB in use, shared by every policy that points to it and
// replaced as a whole when a newer one verifies. The zero value has none.
type Metadata struct{ cur atomic.Pointer[MetadataBLOB] }

// Set makes b the BLOB in use (nil: none).
func (m *Metadata) Set(b *MetadataBLOB) { m.cur.Store(b) }

// Current returns the BLOB in use, or nil.
func (m *Metadata) Current() *MetadataBLOB {
	if m == nil {
		return nil
	}
	return m.cur.Load()
}

// Lookup returns the model with this AAGUID from the BLOB in use.
func (m *Metadata) Lookup(aaguid [16]byte) (Authenticator, bool) {
	b := m.Current()
	if b == nil {
		return Authenticator{}, false
	}
	return b.Lookup(aaguid)
}

// Describe returns the authenticator model's name, e.g. "YubiKey 5 NFC", or
// "" when no BLOB is loaded or it does not name this AAGUID.
func (m *Metadata) Describe(aaguid [16]byte) string {
	a, _ := m.Lookup(aaguid)
	return a.Name
}

// Update verifies blob and, if it verifies, makes it the BLOB in use. If it
// does not, the BLOB in use stays and the error says why.
func (m *Metadata) Update(blob []byte, root *x509.Certificate) (*MetadataBLOB, error) {
	b, err := VerifyMetadata(blob, root)
	if err != nil {
		return nil, err
	}
	m.Set(b)
	return b, nil
}
