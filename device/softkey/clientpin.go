package softkey

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
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

// decodeNewPIN decrypts newPinEnc and applies the PIN policy.
func (a *authenticator) decodeNewPIN(proto uint64, secret, newPinEnc []byte) ([]byte, error) {
	padded, err := pinDecrypt(proto, secret, newPinEnc)
	if err != nil {
		return nil, err
	}
	if len(padded) != paddedPINSize {
		return nil, StatusInvalidParameter
	}
	pin := padded
	if i := bytes.IndexByte(padded, 0); i >= 0 {
		pin = padded[:i]
	}
	// minPINLength counts Unicode code points; bytes are a safe upper
	// bound for the ASCII PINs libfido2 and kiosks send.
	if len([]rune(string(pin))) < a.cfg.minPINLen || len(pin) > maxPINBytes {
		return nil, StatusPINPolicyViolation
	}
	h := sha256.Sum256(pin)
	clear(padded)
	return h[:16], nil
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
	h, err := a.decodeNewPIN(proto, secret, req.NewPinEnc)
	if err != nil {
		return err
	}
	a.pinHash = h
	a.pinRetries = maxPINRetries
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
	h, err := a.decodeNewPIN(proto, secret, req.NewPinEnc)
	if err != nil {
		return err
	}
	a.pinHash = h
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
		if perms&(permBioEnroll|permLargeBlobWrite|permAuthnrConfig) != 0 {
			return nil, StatusUnauthorizedPermiss
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
	a.resetToken()
	a.tokenValid = true
	a.tokenPerms = perms
	a.tokenRPID = rpID
	enc, err := pinEncrypt(proto, secret, a.token)
	if err != nil {
		return nil, err
	}
	return map[int]any{2: enc}, nil
}
