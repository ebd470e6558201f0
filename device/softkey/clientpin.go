package softkey

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"unicode/utf8"
)

// ClientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	pinGetRetries              = 0x01
	pinGetKeyAgreement         = 0x02
	pinSetPIN                  = 0x03
	pinChangePIN               = 0x04
	pinGetPINToken             = 0x05
	pinGetTokenUsingUV         = 0x06
	pinGetUVRetries            = 0x07
	pinGetTokenUsingPINWithPrm = 0x09
)

func (a *authenticator) clientPIN(params []byte) (any, error) {
	var req clientPINReq
	if err := decodeRequest(params, &req); err != nil {
		return nil, err
	}
	if req.SubCommand == nil {
		return nil, StatusMissingParameter
	}
	sub := *req.SubCommand
	switch sub {
	case pinGetRetries:
		return map[int]any{3: a.pinRetries, 4: a.mismatches >= maxConsecutiveWrong}, nil
	case pinGetUVRetries, pinGetTokenUsingUV:
		// No built-in user verification method.
		return nil, StatusInvalidSubcommand
	}
	proto, err := a.checkProtocol(req.PinUvAuthProtocol)
	if err != nil {
		return nil, err
	}
	switch sub {
	case pinGetKeyAgreement:
		return map[int]any{1: coseFromECDH(a.ka.PublicKey())}, nil
	case pinSetPIN:
		return nil, a.setPIN(proto, &req)
	case pinChangePIN:
		return nil, a.changePIN(proto, &req)
	case pinGetPINToken, pinGetTokenUsingPINWithPrm:
		return a.getToken(proto, sub, &req)
	}
	return nil, StatusInvalidSubcommand
}

// sharedSecret runs ECDH with the platform's key and the protocol's KDF.
func (a *authenticator) sharedSecret(proto uint64, k *coseKey) ([]byte, error) {
	pub, err := platformKey(k)
	if err != nil {
		return nil, err
	}
	z, err := a.ka.ECDH(pub)
	if err != nil {
		return nil, StatusInvalidParameter
	}
	return pinKDF(proto, z)
}

// decodeNewPIN decrypts newPinEnc and applies the PIN policy. It returns
// the PIN hash and the PIN's length in code points.
func (a *authenticator) decodeNewPIN(proto uint64, secret, newPinEnc []byte) ([]byte, int, error) {
	padded, err := pinDecrypt(proto, secret, newPinEnc)
	if err != nil {
		return nil, 0, err
	}
	defer clear(padded)
	if len(padded) != paddedPINSize {
		return nil, 0, StatusInvalidParameter
	}
	pin := padded
	if i := bytes.IndexByte(padded, 0); i >= 0 {
		pin = padded[:i]
	}
	// minPINLength counts Unicode code points, not bytes.
	n := utf8.RuneCount(pin)
	if n < a.minPINLen || len(pin) > maxPINBytes {
		return nil, 0, StatusPINPolicyViolation
	}
	h := sha256.Sum256(pin)
	return h[:16], n, nil
}

func (a *authenticator) setPIN(proto uint64, req *clientPINReq) error {
	if req.KeyAgreement == nil || req.PinUvAuthParam == nil || req.NewPinEnc == nil {
		return StatusMissingParameter
	}
	if a.pinHash != nil {
		return StatusNotAllowed
	}
	secret, err := a.sharedSecret(proto, req.KeyAgreement)
	if err != nil {
		return err
	}
	if !pinVerify(proto, secret, req.NewPinEnc, req.PinUvAuthParam) {
		return StatusPINAuthInvalid
	}
	h, n, err := a.decodeNewPIN(proto, secret, req.NewPinEnc)
	if err != nil {
		return err
	}
	a.pinHash, a.pinLen = h, n
	a.pinRetries = maxPINRetries
	a.forceChange = false
	a.dirty = true
	a.cfg.log.Info("pin set")
	return nil
}

// checkPIN verifies pinHashEnc against the stored PIN, with the retry and
// power-cycle accounting of CTAP 2.1 §6.5.5.5.
func (a *authenticator) checkPIN(proto uint64, secret, pinHashEnc []byte) error {
	a.pinRetries--
	a.dirty = true
	ph, err := pinDecrypt(proto, secret, pinHashEnc)
	if err != nil || len(ph) != 16 || subtle.ConstantTimeCompare(ph, a.pinHash) != 1 {
		a.regenKeyAgreement()
		a.mismatches++
		a.cfg.log.Info("wrong pin", "retries", a.pinRetries)
		switch {
		case a.pinRetries <= 0:
			a.pinRetries = 0
			return StatusPINBlocked
		case a.mismatches >= maxConsecutiveWrong:
			return StatusPINAuthBlocked
		}
		return StatusPINInvalid
	}
	a.pinRetries = maxPINRetries
	a.mismatches = 0
	return nil
}

// pinUsable reports whether a PIN attempt may be made at all.
func (a *authenticator) pinUsable() error {
	switch {
	case a.pinHash == nil:
		return StatusPINNotSet
	case a.pinRetries <= 0:
		return StatusPINBlocked
	case a.mismatches >= maxConsecutiveWrong:
		return StatusPINAuthBlocked
	}
	return nil
}

func (a *authenticator) changePIN(proto uint64, req *clientPINReq) error {
	if req.KeyAgreement == nil || req.PinUvAuthParam == nil || req.NewPinEnc == nil || req.PinHashEnc == nil {
		return StatusMissingParameter
	}
	if err := a.pinUsable(); err != nil {
		return err
	}
	secret, err := a.sharedSecret(proto, req.KeyAgreement)
	if err != nil {
		return err
	}
	msg := append(append([]byte(nil), req.NewPinEnc...), req.PinHashEnc...)
	if !pinVerify(proto, secret, msg, req.PinUvAuthParam) {
		return StatusPINAuthInvalid
	}
	if err := a.checkPIN(proto, secret, req.PinHashEnc); err != nil {
		return err
	}
	h, n, err := a.decodeNewPIN(proto, secret, req.NewPinEnc)
	if err != nil {
		return err
	}
	if a.forceChange && subtle.ConstantTimeCompare(h, a.pinHash) == 1 {
		// A forced change must pick a different PIN.
		return StatusPINPolicyViolation
	}
	a.pinHash, a.pinLen = h, n
	a.forceChange = false
	a.dirty = true
	a.resetToken()
	a.cfg.log.Info("pin changed")
	return nil
}

func (a *authenticator) getToken(proto, sub uint64, req *clientPINReq) (any, error) {
	if req.KeyAgreement == nil || req.PinHashEnc == nil {
		return nil, StatusMissingParameter
	}
	perms := uint64(permMakeCredential | permGetAssertion)
	rpID := ""
	if sub == pinGetPINToken {
		if req.Permissions != nil || req.RPID != nil {
			return nil, StatusInvalidParameter
		}
	} else {
		if req.Permissions == nil {
			return nil, StatusMissingParameter
		}
		perms = *req.Permissions
		if perms == 0 {
			return nil, StatusInvalidParameter
		}
		if perms&(permBioEnroll|permLargeBlobWrite) != 0 {
			return nil, StatusUnauthorizedPermission
		}
		if req.RPID != nil {
			rpID = *req.RPID
		}
	}
	if err := a.pinUsable(); err != nil {
		return nil, err
	}
	secret, err := a.sharedSecret(proto, req.KeyAgreement)
	if err != nil {
		return nil, err
	}
	if err := a.checkPIN(proto, secret, req.PinHashEnc); err != nil {
		return nil, err
	}
	if a.forceChange {
		// Right PIN, but it has to be changed before use.
		return nil, StatusPINPolicyViolation
	}
	a.resetToken()
	a.tokenValid = true
	a.tokenSince = a.now()
	a.tokenPerms = perms
	a.tokenRPID = rpID
	enc, err := pinEncrypt(proto, secret, a.token)
	if err != nil {
		return nil, err
	}
	return map[int]any{2: enc}, nil
}

// authenticatorConfig subcommands (CTAP 2.1 §6.11).
const (
	cfgEnableEnterpriseAttestation = 0x01
	cfgToggleAlwaysUV              = 0x02
	cfgSetMinPINLength             = 0x03
)

// config runs authenticatorConfig. Only setMinPINLength is supported (the
// key advertises neither "ep" nor "alwaysUv").
func (a *authenticator) config(params []byte) error {
	var req configReq
	if err := decodeRequest(params, &req); err != nil {
		return err
	}
	if req.SubCommand == nil {
		return StatusMissingParameter
	}
	sub := *req.SubCommand
	if req.PinUvAuthParam != nil {
		proto, err := a.checkProtocol(req.PinUvAuthProtocol)
		if err != nil {
			return err
		}
		// 32×0xff ‖ 0x0d ‖ subCommand ‖ subCommandParams as sent.
		msg := bytes.Repeat([]byte{0xff}, 32)
		msg = append(msg, cmdConfig, byte(sub))
		msg = append(msg, req.SubCommandParams...)
		if err := a.useToken(proto, req.PinUvAuthParam, msg, permAuthnrConfig, ""); err != nil {
			return err
		}
	} else if a.pinHash != nil {
		return StatusPUATRequired
	}
	switch sub {
	case cfgSetMinPINLength:
	case cfgEnableEnterpriseAttestation, cfgToggleAlwaysUV:
		return StatusInvalidSubcommand
	default:
		return StatusInvalidSubcommand
	}
	var p setMinPINLengthParams
	if req.SubCommandParams != nil {
		if err := decodeRequest(req.SubCommandParams, &p); err != nil {
			return err
		}
	}
	newLen := a.minPINLen
	if p.NewMinPINLength != nil {
		if *p.NewMinPINLength > maxPINBytes {
			return StatusPINPolicyViolation
		}
		newLen = int(*p.NewMinPINLength)
	}
	if newLen < a.minPINLen {
		return StatusPINPolicyViolation
	}
	if len(p.MinPinLengthRPIDs) > maxMinPINRPs {
		return StatusInvalidLength
	}
	force := p.ForceChangePin != nil && *p.ForceChangePin
	if force && a.pinHash == nil {
		return StatusPINNotSet
	}
	a.minPINLen = newLen
	if p.MinPinLengthRPIDs != nil {
		a.minPINRPs = p.MinPinLengthRPIDs
	}
	if force || (a.pinHash != nil && a.pinLen < newLen) {
		a.forceChange = true
	}
	a.dirty = true
	a.cfg.log.Info("pin policy changed", "min_pin_length", newLen, "force_change", a.forceChange)
	return nil
}
