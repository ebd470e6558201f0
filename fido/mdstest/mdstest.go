// Package mdstest makes FIDO Metadata Service (MDS3) BLOBs for tests: JWTs
// signed by a signing certificate issued by an intermediate under a root,
// all made here with crypto/x509, in the shape mds3.fidoalliance.org
// serves.
package mdstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer is a metadata root, an intermediate and the BLOB signing
// certificate, as the FIDO Alliance's chain has them.
type Signer struct {
	Root, Intermediate, Leaf *x509.Certificate
	leafKey                  *ecdsa.PrivateKey
}

// Entry is one authenticator model in a BLOB.
type Entry struct {
	AAGUID      string // "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	Description string // "YubiKey 5 NFC"
	// Statuses are status report values in order, e.g. "FIDO_CERTIFIED_L1"
	// then "REVOKED"; each takes effect on consecutive days a year ago.
	Statuses []string
}

// NewSigner makes a root, an intermediate and a signing certificate,
// valid from an hour ago for a day, with ECDSA P-256 keys.
func NewSigner() (*Signer, error) {
	now := time.Now()
	issue := func(serial int64, cn string, ca bool, pub *ecdsa.PublicKey, parent *x509.Certificate, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial),
			Subject:   pkix.Name{Country: []string{"US"}, Organization: []string{"Test Metadata Alliance"}, CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: ca}
		if ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		} else {
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	rootKey, interKey, leafKey := newKey(), newKey(), newKey()
	s := &Signer{leafKey: leafKey}
	var err error
	if s.Root, err = issue(1, "Test MDS3 Root", true, &rootKey.PublicKey, nil, rootKey); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	if s.Intermediate, err = issue(2, "Test MDS3 Intermediate", true, &interKey.PublicKey, s.Root, rootKey); err != nil {
		return nil, fmt.Errorf("intermediate: %w", err)
	}
	if s.Leaf, err = issue(3, "Test MDS3 BLOB Signer", false, &leafKey.PublicKey, s.Intermediate, interKey); err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return s, nil
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return k
}

// RootPEM is the root certificate as an mds_root_file holds it.
func (s *Signer) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw})
}

// BLOB returns a signed BLOB with serial number no, nextUpdate and entries.
func (s *Signer) BLOB(no int, nextUpdate time.Time, entries ...Entry) ([]byte, error) {
	day := time.Now().AddDate(-1, 0, 0)
	var list []map[string]any
	for _, e := range entries {
		var reports []map[string]any
		for i, st := range e.Statuses {
			reports = append(reports, map[string]any{"status": st, "effectiveDate": day.AddDate(0, 0, i).Format(time.DateOnly)})
		}
		list = append(list, map[string]any{
			"aaguid": e.AAGUID,
			"metadataStatement": map[string]any{
				"aaguid": e.AAGUID, "description": e.Description, "schema": 3, "protocolFamily": "fido2",
				"authenticatorVersion": 1, "attestationTypes": []string{"basic_full"},
			},
			"statusReports":          reports,
			"timeOfLastStatusChange": day.Format(time.DateOnly),
		})
	}
	payload, err := json.Marshal(map[string]any{
		"legalHeader": "Test metadata, not for production.", "no": no,
		"nextUpdate": nextUpdate.UTC().Format(time.DateOnly), "entries": list,
	})
	if err != nil {
		return nil, err
	}
	var claims jwt.MapClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	b64 := base64.StdEncoding.EncodeToString
	tok.Header["x5c"] = []string{b64(s.Leaf.Raw), b64(s.Intermediate.Raw)}
	signed, err := tok.SignedString(s.leafKey)
	if err != nil {
		return nil, err
	}
	return []byte(signed), nil
}

// Tamper returns the BLOB with one byte of its signature changed, so that
// it no longer verifies.
func Tamper(blob []byte) []byte {
	s := string(blob)
	i := strings.LastIndexByte(s, '.') + 5
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return []byte(s[:i] + string(c) + s[i+1:])
}
