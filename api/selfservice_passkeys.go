package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"

	"mfagate/fido"
	"mfagate/mfa"
	"mfagate/selfservice"
)

// Passkeys made in the user's own browser on the Security info page: the
// page asks for creation options (a ceremony stored with the session),
// runs navigator.credentials.create() and sends the RegistrationResponseJSON
// back. It is verified by fido.VerifyRegistration, the kiosk's path, with
// the [fido] policy of place "browser", then stored by mfa.RegisterFIDO
// (proof rule, duplicates).

// Passkeys holds the browser registrations' WebAuthn policy, which a
// configuration reload may replace.
type Passkeys struct{ policy atomic.Pointer[fido.Policy] }

// NewPasskeys returns browser registrations under p.
func NewPasskeys(p fido.Policy) *Passkeys {
	k := &Passkeys{}
	k.SetPolicy(p)
	return k
}

// SetPolicy replaces the policy (configuration reload).
func (k *Passkeys) SetPolicy(p fido.Policy) { k.policy.Store(&p) }

func (k *Passkeys) pol() fido.Policy { return *k.policy.Load() }

// SetPasskeyPolicy replaces the policy of passkeys registered on the
// Security info page (configuration reload); without the page it does
// nothing.
func (s *Server) SetPasskeyPolicy(p fido.Policy) {
	if s.self != nil && s.self.Passkeys != nil {
		s.self.Passkeys.SetPolicy(p)
	}
}

// defaultPasskeyLabel names a passkey registered without a label.
const defaultPasskeyLabel = "Passkey"

func (s *Server) passkeysOn() error {
	if s.self.Passkeys == nil {
		return newProblem(http.StatusNotFound, codeNotFound, "passkeys cannot be registered on this gateway's Security info page")
	}
	return nil
}

type passkeyOptionsJSON struct {
	Ceremony  string          `json:"ceremony"`
	PublicKey json.RawMessage `json:"publicKey"`
}

// passkeyOptions starts a registration: a new ceremony replaces the
// session's pending one.
func (s *Server) passkeyOptions(w http.ResponseWriter, r *http.Request, sess selfservice.Session, _ mfa.Actor) error {
	if err := s.passkeysOn(); err != nil {
		return err
	}
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	v, err := s.svc.GetUser(r.Context(), sess.User)
	if err != nil {
		return err
	}
	var exclude [][]byte
	for _, m := range v.Methods {
		if m.FIDO != nil {
			exclude = append(exclude, m.FIDO.ID)
		}
	}
	c, err := s.self.Sessions.BeginCeremony(r.Context(), sess)
	if err != nil {
		return err
	}
	// The user handle is the user ID's bytes, as the kiosk registers keys.
	opts := fido.CreationOptions(s.self.Passkeys.pol(), c.Challenge,
		fido.UserEntity{ID: []byte(sess.User), Name: sess.User, DisplayName: sess.User}, exclude, selfservice.CeremonyTTL)
	return writeJSON(w, http.StatusOK, passkeyOptionsJSON{Ceremony: c.ID, PublicKey: opts})
}

type registerPasskeyBody struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Label      string          `json:"label"`
	Proof      string          `json:"proof"`
}

// registerPasskey finishes a registration. The ceremony is taken first,
// so that it answers once whatever the outcome.
func (s *Server) registerPasskey(w http.ResponseWriter, r *http.Request, sess selfservice.Session, a mfa.Actor) error {
	if err := s.passkeysOn(); err != nil {
		return err
	}
	var b registerPasskeyBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	switch {
	case b.Ceremony == "":
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "ceremony is required: the ID (r_…) /me/api/passkeys/options gave")
	case len(b.Credential) == 0 || string(b.Credential) == "null":
		return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "credential is required: the RegistrationResponseJSON of navigator.credentials.create()")
	}
	c, err := s.self.Sessions.TakeCeremony(r.Context(), sess, b.Ceremony)
	switch {
	case errors.Is(err, selfservice.ErrNoCeremony):
		return newProblem(http.StatusConflict, codeUnknownCeremony, "passkey registration %s is not pending in this session (answered already, replaced by a newer one, or another session's); start the registration again", truncate(b.Ceremony, 40))
	case errors.Is(err, selfservice.ErrCeremonyExpired):
		return newProblem(http.StatusGone, codeCeremonyExpired, "the passkey registration took longer than %s; start it again", selfservice.CeremonyTTL)
	case err != nil:
		return err
	}
	cred, resp, err := fido.VerifyRegistrationResponse(s.self.Passkeys.pol(), c.Challenge, b.Credential)
	if err != nil {
		s.log.Warn("browser passkey registration refused", "user", sess.User, "err", err)
		return webauthnProblem(err)
	}
	label := b.Label
	if label == "" {
		label = defaultPasskeyLabel
	}
	m, err := s.svc.RegisterFIDO(r.Context(), a, sess.User, mfa.FIDORegistration{Label: label, Proof: b.Proof, Credential: mfa.FIDOCredential{
		ID: cred.ID, PublicKey: cred.PublicKey, AAGUID: cred.AAGUID[:], SignCount: cred.SignCount,
		AttestationFormat: cred.AttestationFormat, AttestationObject: resp.AttestationObject, ClientDataJSON: resp.ClientDataJSON,
	}})
	if err != nil {
		return err
	}
	s.log.Info("passkey registered in the browser", "user", sess.User, "method", m.ID, "aaguid", fido.FormatAAGUID(cred.AAGUID))
	return writeJSON(w, http.StatusCreated, map[string]any{"method": s.methodView(m)})
}

// webauthnProblem turns a refused registration into a problem whose code
// names the check that failed: webauthn_challenge, webauthn_origin,
// webauthn_rp_id, webauthn_user_verification, webauthn_attestation,
// webauthn_aaguid, webauthn_synced, webauthn_authenticator_status,
// webauthn_algorithm, webauthn_malformed, ….
func webauthnProblem(err error) error {
	kind := fido.Kind(err)
	switch kind {
	case "":
		return err
	case "policy":
		return newProblem(http.StatusInternalServerError, "webauthn_policy", "the gateway's [fido] configuration cannot check passkeys: %v", err)
	case "malformed":
		return newProblem(http.StatusBadRequest, "webauthn_malformed", "the passkey registration cannot be read: %v", err)
	}
	return newProblem(http.StatusUnprocessableEntity, "webauthn_"+kind, "the passkey was not registered: %v", err)
}
