package softkey

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator limits and defaults, advertised in GetInfo.
const (
	maxPINRetries         = 8
	maxConsecutiveWrong   = 3 // then a power cycle is needed
	maxMsgSize            = 2048
	maxCredsInList        = 8
	maxCredIDLength       = 128
	maxPINBytes           = 63
	paddedPINSize         = 64
	nextAssertionLifetime = 30 * time.Second
	firmwareVersion       = 1
	maxMinPINRPs          = 4 // maxRPIDsForSetMinPINLength
	// pinUvAuthToken lifetime (CTAP 2.1 §6.5.2.1; the USB defaults).
	tokenInitialUsageLimit = 30 * time.Second
	tokenMaxUsagePeriod    = 10 * time.Minute
)

// authData flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
	flagED = 0x80
)

// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
const (
	permMakeCredential = 0x01
	permGetAssertion   = 0x02
	permCredMgmt       = 0x04
	permBioEnroll      = 0x08
	permLargeBlobWrite = 0x10
	permAuthnrConfig   = 0x20
)

// credProtect levels (CTAP 2.1 §12.1).
const (
	credProtectOptional       = 1
	credProtectOptionalWithID = 2
	credProtectRequired       = 3
)

// errNoReply means the request was abandoned (the device vanished or the
// host resynchronised its channel): no reply is sent.
var errNoReply = errors.New("softkey: request abandoned")

// presenceFunc blocks until the user touches the key. It returns nil on a
// touch, StatusUserActionTimeout, StatusKeepaliveCancel, or errNoReply.
type presenceFunc func() error

// coreConfig is the authenticator's fixed configuration.
type coreConfig struct {
	aaguid      [16]byte
	format      AttestationFormat
	minPINLen   int
	maxResident int
	resetWindow time.Duration // < 0: Reset allowed at any time
	protocols   []uint64
	u2f         bool // also serves U2F: GetInfo lists U2F_V2
	log         *slog.Logger
}

// residentCred is a discoverable credential stored on the key.
type residentCred struct {
	id          []byte
	rpID        string
	rpName      string
	user        userEntity
	priv        *ecdsa.PrivateKey
	credProtect byte
	hmacSecret  bool
	created     uint64
}

// authenticator is the CTAP2 state machine. It has no I/O: the key's
// goroutine hands it complete CBOR requests and a presence function, and
// only that goroutine touches it.
type authenticator struct {
	cfg coreConfig
	att *attestation
	now func() time.Time

	// Persistent state (survives power cycles; optionally saved to a file).
	master      []byte
	pinHash     []byte // LEFT(SHA-256(PIN), 16); nil when no PIN is set
	pinRetries  int
	signCount   uint32
	resident    []*residentCred
	seq         uint64
	pinLen      int      // code points of the current PIN
	minPINLen   int      // raised by authenticatorConfig setMinPINLength
	forceChange bool     // the PIN must be changed before it can be used
	minPINRPs   []string // RPs that may read minPINLen (minPinLength extension)
	dirty       bool     // persistent state changed since the last save

	// Volatile state, reset at power-up.
	bootTime   time.Time
	mismatches int // consecutive wrong PINs since power-up
	ka         *ecdh.PrivateKey
	token      []byte
	tokenValid bool
	tokenUsed  bool
	tokenSince time.Time // when the token was issued
	tokenPerms uint64
	tokenRPID  string
	nextAssert *assertionIter

	// Fault injection: flip a bit in the next signature made.
	corruptNextSig bool
	rpIter         []*residentCred
	credIter       []*residentCred
}

type assertionIter struct {
	salts    *hmacSecretInput
	creds    []*residentCred
	rpIDHash []byte
	cdh      []byte
	flags    byte
	uv       bool
	expires  time.Time
}

func newAuthenticator(cfg coreConfig, att *attestation, now func() time.Time) *authenticator {
	a := &authenticator{
		cfg:        cfg,
		att:        att,
		now:        now,
		master:     randBytes(32),
		pinRetries: maxPINRetries,
		minPINLen:  cfg.minPINLen,
	}
	a.powerUp()
	return a
}

// powerUp resets the volatile state as plugging the key in would.
func (a *authenticator) powerUp() {
	a.bootTime = a.now()
	a.mismatches = 0
	a.regenKeyAgreement()
	a.resetToken()
	a.nextAssert = nil
	a.rpIter = nil
	a.credIter = nil
}

func (a *authenticator) regenKeyAgreement() {
	k, err := ecdh.P256().GenerateKey(nil)
	if err != nil {
		panic(fmt.Sprintf("softkey: generate key agreement key: %v", err))
	}
	a.ka = k
}

func (a *authenticator) resetToken() {
	a.token = randBytes(32)
	a.tokenValid = false
	a.tokenUsed = false
	a.tokenPerms = 0
	a.tokenRPID = ""
}

// handle runs one CTAP2 request (command byte ‖ CBOR parameters) and returns
// the response (status ‖ CBOR). It returns errNoReply when the device went
// away mid-operation and nothing must be sent.
func (a *authenticator) handle(req []byte, up presenceFunc) ([]byte, error) {
	if len(req) == 0 {
		return []byte{byte(StatusInvalidLength)}, nil
	}
	cmd, params := req[0], req[1:]
	if cmd != cmdGetNextAssertion {
		a.nextAssert = nil
	}
	if cmd != cmdCredMgmt && cmd != cmdCredMgmtPreview {
		a.rpIter, a.credIter = nil, nil
	}
	var (
		resp any
		err  error
	)
	if len(req) > maxMsgSize {
		err = StatusRequestTooLarge
	} else {
		switch cmd {
		case cmdGetInfo:
			resp = a.getInfo()
		case cmdMakeCredential:
			resp, err = a.makeCredential(params, up)
		case cmdGetAssertion:
			resp, err = a.getAssertion(params, up)
		case cmdGetNextAssertion:
			resp, err = a.getNextAssertion()
		case cmdClientPIN:
			resp, err = a.clientPIN(params)
		case cmdReset:
			err = a.reset(up)
		case cmdCredMgmt, cmdCredMgmtPreview:
			resp, err = a.credMgmt(params)
		case cmdSelection:
			err = up()
		case cmdConfig:
			err = a.config(params)
		default:
			err = StatusInvalidCommand
		}
	}
	if errors.Is(err, errNoReply) {
		return nil, err
	}
	var st Status
	switch {
	case errors.As(err, &st):
		a.cfg.log.Debug("ctap2 request failed", "cmd", cmd, "status", byte(st))
		return []byte{byte(st)}, nil
	case err != nil:
		a.cfg.log.Error("ctap2 request failed", "cmd", cmd, "err", err)
		return []byte{byte(StatusOther)}, nil
	}
	a.cfg.log.Debug("ctap2 request done", "cmd", cmd)
	out := []byte{byte(StatusOK)}
	if resp != nil {
		out = append(out, mustMarshal(resp)...)
	}
	return out, nil
}

func (a *authenticator) getInfo() any {
	versions := []string{"FIDO_2_0", "FIDO_2_1"}
	if a.cfg.u2f {
		versions = append([]string{"U2F_V2"}, versions...)
	}
	return map[int]any{
		1: versions,
		2: []string{"credProtect", "hmac-secret", "minPinLength"},
		3: a.cfg.aaguid[:],
		4: map[string]bool{
			"rk":               true,
			"up":               true,
			"plat":             false,
			"clientPin":        a.pinHash != nil,
			"credMgmt":         true,
			"pinUvAuthToken":   true,
			"makeCredUvNotRqd": false,
			"authnrCfg":        true,
			"setMinPINLength":  true,
		},
		5:  maxMsgSize,
		6:  a.cfg.protocols,
		7:  maxCredsInList,
		8:  maxCredIDLength,
		9:  []string{"usb"},
		10: []credParam{{Type: credTypePublicKey, Alg: coseAlgES256}},
		12: a.forceChange,
		13: a.minPINLen,
		14: firmwareVersion,
		16: maxMinPINRPs,
		20: a.cfg.maxResident - len(a.resident),
	}
}

// checkProtocol validates a pinUvAuthProtocol parameter.
func (a *authenticator) checkProtocol(p *uint64) (uint64, error) {
	if p == nil {
		return 0, StatusMissingParameter
	}
	if !slices.Contains(a.cfg.protocols, *p) {
		return 0, StatusInvalidParameter
	}
	return *p, nil
}

// emptyPinAuth is the "touch to select" probe platforms send: a zero-length
// pinUvAuthParam. The key waits for a touch and then says whether a PIN is set.
func (a *authenticator) emptyPinAuth(proto *uint64, up presenceFunc) error {
	if _, err := a.checkProtocol(proto); err != nil {
		return err
	}
	if err := up(); err != nil {
		return err
	}
	if a.pinHash == nil {
		return StatusPINNotSet
	}
	return StatusPINInvalid
}

// useToken checks a pinUvAuthParam over msg against the current token and
// its permission and RP binding.
func (a *authenticator) useToken(proto uint64, param, msg []byte, perm uint64, rpID string) error {
	if a.tokenValid {
		// CTAP 2.1 §6.5.2.1: a token not used within the initial usage
		// limit, or older than the maximum usage period, expires.
		age := a.now().Sub(a.tokenSince)
		if (!a.tokenUsed && age > tokenInitialUsageLimit) || age > tokenMaxUsagePeriod {
			a.resetToken()
		}
	}
	if !a.tokenValid || !pinVerify(proto, a.token, msg, param) {
		return StatusPINAuthInvalid
	}
	if a.tokenPerms&perm == 0 {
		return StatusPINAuthInvalid
	}
	a.tokenUsed = true
	if rpID != "" {
		switch a.tokenRPID {
		case "":
			a.tokenRPID = rpID
		case rpID:
		default:
			return StatusPINAuthInvalid
		}
	}
	return nil
}

func rpHash(rpID string) []byte {
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

func (a *authenticator) nextCount() uint32 {
	a.signCount++
	a.dirty = true
	return a.signCount
}

func authData(rpIDHash []byte, flags byte, count uint32, attested, ext []byte) []byte {
	out := make([]byte, 0, 37+len(attested)+len(ext))
	out = append(out, rpIDHash...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	out = append(out, attested...)
	return append(out, ext...)
}

func (a *authenticator) makeCredential(params []byte, up presenceFunc) (any, error) {
	var req makeCredentialReq
	if err := decodeRequest(params, &req); err != nil {
		return nil, err
	}
	if req.PinUvAuthParam != nil && len(req.PinUvAuthParam) == 0 {
		return nil, a.emptyPinAuth(req.PinUvAuthProtocol, up)
	}
	if req.ClientDataHash == nil || req.RP == nil || req.User == nil || req.PubKeyCredParams == nil {
		return nil, StatusMissingParameter
	}
	if req.RP.ID == "" || req.User.ID == nil {
		return nil, StatusMissingParameter
	}
	if len(req.User.ID) > 64 {
		return nil, StatusInvalidLength
	}
	var proto uint64
	if req.PinUvAuthParam != nil {
		p, err := a.checkProtocol(req.PinUvAuthProtocol)
		if err != nil {
			return nil, err
		}
		proto = p
	}
	if !slices.ContainsFunc(req.PubKeyCredParams, func(p credParam) bool {
		return p.Type == credTypePublicKey && p.Alg == coseAlgES256
	}) {
		return nil, StatusUnsupportedAlg
	}
	rk := req.Options["rk"]
	if v, ok := req.Options["up"]; ok && !v {
		return nil, StatusInvalidOption
	}
	if req.Options["uv"] {
		// No built-in user verification (no biometrics): only the PIN.
		return nil, StatusInvalidOption
	}
	if req.EnterpriseAtt != nil {
		return nil, StatusInvalidParameter
	}
	var flags byte = flagUP | flagAT
	if req.PinUvAuthParam != nil {
		if err := a.useToken(proto, req.PinUvAuthParam, req.ClientDataHash, permMakeCredential, req.RP.ID); err != nil {
			return nil, err
		}
		flags |= flagUV
	} else if a.pinHash != nil {
		return nil, StatusPUATRequired
	}
	uv := flags&flagUV != 0

	rh := rpHash(req.RP.ID)
	for _, d := range req.ExcludeList {
		if d.Type != credTypePublicKey {
			continue
		}
		w, ok := unwrapCredential(a.master, rh, d.ID)
		if !ok || (w.credProtect == credProtectRequired && !uv) {
			continue
		}
		if err := up(); err != nil {
			return nil, err
		}
		return nil, StatusCredentialExcluded
	}

	var credProtect byte
	if raw, ok := req.Extensions["credProtect"]; ok {
		var lvl uint64
		if err := cbor.Unmarshal(raw, &lvl); err != nil {
			return nil, StatusCBORUnexpectedType
		}
		if lvl < credProtectOptional || lvl > credProtectRequired {
			return nil, StatusInvalidParameter
		}
		credProtect = byte(lvl)
	}
	var hmacSecret bool
	if raw, ok := req.Extensions["hmac-secret"]; ok {
		if err := cbor.Unmarshal(raw, &hmacSecret); err != nil {
			return nil, StatusCBORUnexpectedType
		}
	}
	if rk && len(a.resident) >= a.cfg.maxResident && a.findResidentUser(req.RP.ID, req.User.ID) < 0 {
		return nil, StatusKeyStoreFull
	}

	if err := up(); err != nil {
		return nil, err
	}

	priv, err := newP256Key()
	if err != nil {
		return nil, err
	}
	storedProtect := credProtect
	if storedProtect == 0 {
		storedProtect = credProtectOptional
	}
	credID, err := wrapCredential(a.master, rh, wrappedKey{priv: priv, credProtect: storedProtect, hmacSecret: hmacSecret})
	if err != nil {
		return nil, err
	}
	if rk {
		if i := a.findResidentUser(req.RP.ID, req.User.ID); i >= 0 {
			a.resident = slices.Delete(a.resident, i, i+1)
		}
		a.seq++
		a.resident = append(a.resident, &residentCred{
			id:          credID,
			rpID:        req.RP.ID,
			rpName:      req.RP.Name,
			user:        *req.User,
			priv:        priv,
			credProtect: storedProtect,
			hmacSecret:  hmacSecret,
			created:     a.seq,
		})
		a.dirty = true
	}

	attested := append([]byte(nil), a.cfg.aaguid[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(credID)))
	attested = append(attested, credID...)
	attested = append(attested, mustMarshal(coseFromECDSA(&priv.PublicKey))...)
	var ext []byte
	extOut := map[string]any{}
	if credProtect != 0 {
		extOut["credProtect"] = credProtect
	}
	if hmacSecret {
		extOut["hmac-secret"] = true
	}
	if raw, ok := req.Extensions["minPinLength"]; ok {
		var want bool
		if err := cbor.Unmarshal(raw, &want); err != nil {
			return nil, StatusCBORUnexpectedType
		}
		if want && slices.Contains(a.minPINRPs, req.RP.ID) {
			extOut["minPinLength"] = a.minPINLen
		}
	}
	if len(extOut) > 0 {
		flags |= flagED
		ext = mustMarshal(extOut)
	}
	ad := authData(rh, flags, a.nextCount(), attested, ext)
	format, stmt, err := a.att.statement(a.cfg.format, priv, ad, req.ClientDataHash)
	if err != nil {
		return nil, err
	}
	if sig, ok := stmt["sig"].([]byte); ok {
		a.maybeCorrupt(sig)
	}
	return map[int]any{1: format, 2: ad, 3: stmt}, nil
}

func (a *authenticator) findResidentUser(rpID string, userID []byte) int {
	return slices.IndexFunc(a.resident, func(c *residentCred) bool {
		return c.rpID == rpID && bytes.Equal(c.user.ID, userID)
	})
}

func (a *authenticator) findResident(id []byte) int {
	return slices.IndexFunc(a.resident, func(c *residentCred) bool { return bytes.Equal(c.id, id) })
}

// credential is what an assertion signs with.
type credential struct {
	id         []byte
	priv       *ecdsa.PrivateKey
	hmacSecret bool
	resident   *residentCred // nil for a non-resident credential
}

func (a *authenticator) getAssertion(params []byte, up presenceFunc) (any, error) {
	var req getAssertionReq
	if err := decodeRequest(params, &req); err != nil {
		return nil, err
	}
	if req.PinUvAuthParam != nil && len(req.PinUvAuthParam) == 0 {
		return nil, a.emptyPinAuth(req.PinUvAuthProtocol, up)
	}
	if req.RPID == nil || req.ClientDataHash == nil {
		return nil, StatusMissingParameter
	}
	rpID := *req.RPID
	var proto uint64
	if req.PinUvAuthParam != nil {
		p, err := a.checkProtocol(req.PinUvAuthProtocol)
		if err != nil {
			return nil, err
		}
		proto = p
	}
	if _, ok := req.Options["rk"]; ok {
		return nil, StatusUnsupportedOption
	}
	if req.Options["uv"] {
		return nil, StatusInvalidOption
	}
	wantUP := true
	if v, ok := req.Options["up"]; ok {
		wantUP = v
	}
	var flags byte
	if req.PinUvAuthParam != nil {
		if err := a.useToken(proto, req.PinUvAuthParam, req.ClientDataHash, permGetAssertion, rpID); err != nil {
			return nil, err
		}
		flags |= flagUV
	}
	uv := flags&flagUV != 0
	rh := rpHash(rpID)

	var creds []credential
	if len(req.AllowList) > 0 {
		for _, d := range req.AllowList {
			if d.Type != credTypePublicKey {
				continue
			}
			if i := a.findResident(d.ID); i >= 0 && a.resident[i].rpID == rpID {
				r := a.resident[i]
				if r.credProtect == credProtectRequired && !uv {
					continue
				}
				creds = append(creds, credential{id: r.id, priv: r.priv, hmacSecret: r.hmacSecret, resident: r})
				break
			}
			w, ok := unwrapCredential(a.master, rh, d.ID)
			if !ok || (w.credProtect == credProtectRequired && !uv) {
				continue
			}
			creds = append(creds, credential{id: d.ID, priv: w.priv, hmacSecret: w.hmacSecret})
			break
		}
	} else {
		var found []*residentCred
		for _, r := range a.resident {
			if r.rpID != rpID {
				continue
			}
			if r.credProtect >= credProtectOptionalWithID && !uv {
				continue
			}
			found = append(found, r)
		}
		// Most recently created first.
		slices.SortFunc(found, func(x, y *residentCred) int { return cmp.Compare(y.created, x.created) })
		for _, r := range found {
			creds = append(creds, credential{id: r.id, priv: r.priv, hmacSecret: r.hmacSecret, resident: r})
		}
	}
	if len(creds) == 0 {
		return nil, StatusNoCredentials
	}
	if wantUP {
		if err := up(); err != nil {
			return nil, err
		}
		flags |= flagUP
	}
	var salts *hmacSecretInput
	if raw, ok := req.Extensions["hmac-secret"]; ok {
		in, err := a.decodeHMACSecret(raw)
		if err != nil {
			return nil, err
		}
		salts = in
	}
	resp, err := a.signAssertion(creds[0], rh, req.ClientDataHash, flags, uv, salts)
	if err != nil {
		return nil, err
	}
	if len(creds) > 1 {
		resp[5] = len(creds)
		rest := make([]*residentCred, 0, len(creds)-1)
		for _, c := range creds[1:] {
			rest = append(rest, c.resident)
		}
		a.nextAssert = &assertionIter{
			salts:    salts,
			creds:    rest,
			rpIDHash: rh,
			cdh:      req.ClientDataHash,
			flags:    flags,
			uv:       uv,
			expires:  a.now().Add(nextAssertionLifetime),
		}
	}
	return resp, nil
}

func (a *authenticator) signAssertion(c credential, rh, cdh []byte, flags byte, uv bool, salts *hmacSecretInput) (map[int]any, error) {
	var ext []byte
	if salts != nil && c.hmacSecret {
		out, err := salts.output(c.priv, uv)
		if err != nil {
			return nil, err
		}
		flags |= flagED
		ext = mustMarshal(map[string]any{"hmac-secret": out})
	}
	ad := authData(rh, flags, a.nextCount(), nil, ext)
	sig, err := signES256(c.priv, ad, cdh)
	if err != nil {
		return nil, err
	}
	a.maybeCorrupt(sig)
	resp := map[int]any{
		1: credDescriptor{Type: credTypePublicKey, ID: c.id},
		2: ad,
		3: sig,
	}
	if c.resident != nil {
		u := userEntity{ID: c.resident.user.ID}
		if uv {
			// Identifying user fields only after user verification.
			u.Name = c.resident.user.Name
			u.DisplayName = c.resident.user.DisplayName
		}
		resp[4] = u
	}
	return resp, nil
}

func (a *authenticator) getNextAssertion() (any, error) {
	it := a.nextAssert
	if it == nil || len(it.creds) == 0 || a.now().After(it.expires) {
		a.nextAssert = nil
		return nil, StatusNotAllowed
	}
	r := it.creds[0]
	it.creds = it.creds[1:]
	it.expires = a.now().Add(nextAssertionLifetime)
	return a.signAssertion(credential{id: r.id, priv: r.priv, hmacSecret: r.hmacSecret, resident: r}, it.rpIDHash, it.cdh, it.flags, it.uv, it.salts)
}

func (a *authenticator) reset(up presenceFunc) error {
	if a.cfg.resetWindow >= 0 && a.now().Sub(a.bootTime) > a.cfg.resetWindow {
		return StatusNotAllowed
	}
	if err := up(); err != nil {
		return err
	}
	a.master = randBytes(32)
	a.pinHash = nil
	a.pinLen = 0
	a.pinRetries = maxPINRetries
	a.minPINLen = a.cfg.minPINLen
	a.forceChange = false
	a.minPINRPs = nil
	a.resident = nil
	a.dirty = true
	a.mismatches = 0
	a.regenKeyAgreement()
	a.resetToken()
	a.cfg.log.Info("authenticator reset")
	return nil
}

// hmacSecretInput is a decoded hmac-secret GetAssertion input (CTAP 2.1
// §12.5): the salts and the shared secret to encrypt the outputs with.
type hmacSecretInput struct {
	proto  uint64
	secret []byte
	salts  []byte // 32 or 64 bytes
}

type hmacSecretReq struct {
	KeyAgreement      *coseKey `cbor:"1,keyasint"`
	SaltEnc           []byte   `cbor:"2,keyasint"`
	SaltAuth          []byte   `cbor:"3,keyasint"`
	PinUvAuthProtocol *uint64  `cbor:"4,keyasint"`
}

func (a *authenticator) decodeHMACSecret(raw []byte) (*hmacSecretInput, error) {
	var req hmacSecretReq
	if err := decodeRequest(raw, &req); err != nil {
		return nil, err
	}
	if req.KeyAgreement == nil || req.SaltEnc == nil || req.SaltAuth == nil {
		return nil, StatusMissingParameter
	}
	proto := uint64(pinProtocol1) // the default when absent
	if req.PinUvAuthProtocol != nil {
		p, err := a.checkProtocol(req.PinUvAuthProtocol)
		if err != nil {
			return nil, err
		}
		proto = p
	}
	secret, err := a.sharedSecret(proto, req.KeyAgreement)
	if err != nil {
		return nil, err
	}
	if !pinVerify(proto, secret, req.SaltEnc, req.SaltAuth) {
		return nil, StatusPINAuthInvalid
	}
	salts, err := pinDecrypt(proto, secret, req.SaltEnc)
	if err != nil {
		return nil, err
	}
	if len(salts) != 32 && len(salts) != 64 {
		return nil, StatusInvalidLength
	}
	return &hmacSecretInput{proto: proto, secret: secret, salts: salts}, nil
}

// output computes HMAC-SHA-256(credRandom, salt) for each salt, encrypted
// for the platform.
func (in *hmacSecretInput) output(priv *ecdsa.PrivateKey, uv bool) ([]byte, error) {
	key := credRandom(priv, uv)
	var out []byte
	for i := 0; i < len(in.salts); i += 32 {
		m := hmac.New(sha256.New, key)
		m.Write(in.salts[i : i+32])
		out = m.Sum(out)
	}
	return pinEncrypt(in.proto, in.secret, out)
}

// maybeCorrupt flips the last bit of sig if a FaultBadSignature is armed.
func (a *authenticator) maybeCorrupt(sig []byte) {
	if a.corruptNextSig && len(sig) > 0 {
		a.corruptNextSig = false
		sig[len(sig)-1] ^= 1
		a.cfg.log.Info("fault: corrupted signature")
	}
}
