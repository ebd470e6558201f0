package pi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mfagate/config"
	"mfagate/mfa"
	"mfagate/phone"
)

// A transaction is an mfa offer: the challenges one CHALLENGE answer
// offered, under one transaction_id (mfa.OfferID).

// user reads and checks user and realm. privacyIDEA's user@realm form is
// accepted. The user must be an ID as [policy] user_id_pattern has it: a
// name that is not can belong to nobody, and saying so reveals nothing.
func (s *Server) user(p params) (string, error) {
	user, realm := p["user"], p["realm"]
	if user == "" {
		return "", parameterError("Missing parameter: 'user'")
	}
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		if realm == "" {
			realm = user[i+1:]
		}
		user = user[:i]
	}
	if s.cfg.Realm != "" && realm != "" && realm != s.cfg.Realm {
		return "", userError("User <%s@%s> does not exist: this gateway serves realm %q only", truncate(user, 40), truncate(realm, 40), s.cfg.Realm)
	}
	if err := s.svc.CheckUserID(user); err != nil {
		return "", userError("User <%s> does not exist: %s", truncate(user, 40), mfaMessage(err))
	}
	return user, nil
}

func transactionParam(p params) (string, error) {
	tid, state := p["transaction_id"], p["state"]
	if tid != "" && state != "" && tid != state {
		return "", parameterError("transaction_id and state name different transactions; send one of them")
	}
	if tid == "" {
		tid = state
	}
	return tid, nil
}

// wantsChallenge reports whether pass asks for a challenge rather than
// being a code: empty, or [privacyidea] trigger.
func (s *Server) wantsChallenge(pass string) bool {
	return pass == "" || (s.cfg.Trigger != "" && pass == s.cfg.Trigger)
}

// check is /validate/check (privacyidea/api/validate.py check).
func (s *Server) check(r *http.Request, p params) (answer, error) {
	user, err := s.user(p)
	if err != nil {
		return answer{}, err
	}
	tid, err := transactionParam(p)
	if err != nil {
		return answer{}, err
	}
	ctx, a := r.Context(), actor(r)
	pass := p["pass"]
	if p.has("credentialid", "credential_id") {
		if tid == "" {
			return answer{}, parameterError("a WebAuthn answer needs the transaction_id of the challenge it answers")
		}
		return s.answerWebAuthn(ctx, a, user, tid, p)
	}
	if tid != "" {
		ids, ok := mfa.ParseOffer(tid)
		if !ok {
			return rejected(msgNoTransaction), nil
		}
		if s.wantsChallenge(pass) {
			return s.finalise(ctx, a, user, ids)
		}
		return s.answerCode(ctx, a, user, ids, pass)
	}
	v, err := s.svc.GetUser(ctx, user)
	if err != nil {
		return answer{}, err
	}
	if v.State != mfa.StateActive {
		return s.notEnrolled(ctx, a, user, v.State)
	}
	if s.wantsChallenge(pass) {
		return s.startChallenge(ctx, a, user, p["serial"], p["type"])
	}
	c, err := s.svc.SignInWithCode(ctx, a, user, pass)
	if err != nil {
		return refusal("wrong otp value", err)
	}
	return answer{value: true, auth: accept, detail: map[string]any{
		"message": "matching 1 tokens", "serial": c.Method, "type": "totp", "otplen": len(pass)}}, nil
}

// triggerChallenge is /validate/triggerchallenge for the service account.
func (s *Server) triggerChallenge(r *http.Request, p params) (answer, error) {
	if err := s.checkToken(r); err != nil {
		return answer{}, err
	}
	user, err := s.user(p)
	if err != nil {
		return answer{}, err
	}
	ctx, a := r.Context(), actor(r)
	v, err := s.svc.GetUser(ctx, user)
	if err != nil {
		return answer{}, err
	}
	if v.State != mfa.StateActive {
		// privacyIDEA triggers nothing for a user without tokens: 0
		// challenges, REJECT, empty lists.
		return answer{value: 0, auth: reject, detail: map[string]any{"message": msgNoTokens,
			"messages": []string{}, "multi_challenge": []any{}, "transaction_ids": []string{}}}, nil
	}
	ans, err := s.startChallenge(ctx, a, user, p["serial"], p["type"])
	if err != nil || ans.auth != challenge {
		if ans.auth == reject {
			ans.value = 0
		}
		return ans, err
	}
	ans.value = len(ans.detail["multi_challenge"].([]map[string]any))
	return ans, nil
}

// pollTransaction is /validate/polltransaction: true once the call of the
// transaction was confirmed on the keypad and not yet finalised. Like
// privacyIDEA it answers an unknown transaction as pending, not as an error.
func (s *Server) pollTransaction(r *http.Request, p params) (answer, error) {
	tid, err := transactionParam(p)
	if err != nil {
		return answer{}, err
	}
	if tid == "" {
		return answer{}, parameterError("Missing parameter: 'transaction_id'")
	}
	status := "pending"
	if ids, ok := mfa.ParseOffer(tid); ok {
		for _, id := range ids {
			c, err := s.svc.Challenge(r.Context(), id)
			if err != nil || !isPoll(c) {
				continue
			}
			switch {
			case c.Status == mfa.StatusApproved && c.RedeemedAt.IsZero():
				status = "accept"
			case c.Status == mfa.StatusDenied:
				status = "declined"
			}
		}
	}
	a := answer{value: status == "accept", auth: reject, detail: map[string]any{"challenge_status": status}}
	switch status {
	case "accept":
		a.auth = accept
	case "declined":
		a.auth = declined
	}
	return a, nil
}

func isPoll(c mfa.Challenge) bool { return c.Kind == mfa.KindPhone && c.Channel == mfa.ChannelVoice }

// notEnrolled answers for a user whose MFA is off or pending, and for a
// user never seen (the same answer, so it reveals nothing):
// [privacyidea] mfa_off decides, as privacyIDEA's passthru policy would.
func (s *Server) notEnrolled(ctx context.Context, a mfa.Actor, user string, st mfa.State) (answer, error) {
	if s.cfg.MFAOff == config.MFAOffAccept {
		if err := s.svc.AuditExternalSignin(ctx, a, user, "", "result=accept reason=mfa_"+string(st)); err != nil {
			return answer{}, err
		}
		return answer{value: true, auth: accept, detail: map[string]any{
			"message": "user has no active MFA, accepted due to [privacyidea] mfa_off = \"accept\""}}, nil
	}
	if err := s.svc.AuditExternalSignin(ctx, a, user, "", "result=reject reason=mfa_"+string(st)); err != nil {
		return answer{}, err
	}
	return rejected(msgNoTokens), nil
}

// startChallenge starts the user's default method (or the one serial or
// type names) and offers what else costs nothing to offer: every
// authenticator app and one security key. A second phone is not called
// or sent to on the side; a plugin asks for it with serial or type.
func (s *Server) startChallenge(ctx context.Context, a mfa.Actor, user, serial, typ string) (answer, error) {
	_, methods, err := s.svc.SigninMethods(ctx, user)
	if err != nil {
		return refusal("", err)
	}
	primary, channel, err := pick(methods, serial, typ)
	if err != nil {
		return answer{}, err
	}
	c, err := s.svc.CreateChallenge(ctx, a, user, mfa.ChallengeRequest{Method: primary.ID, Channel: channel})
	if err != nil {
		return refusal("", err)
	}
	offered := []offer{{c: c, m: primary}}
	if primary.Kind != mfa.KindFIDO {
		for _, m := range methods {
			if m.Kind != mfa.KindFIDO {
				continue
			}
			// One key only: privacyIDEA's clients merge every offered
			// key into the first sign request, which needs one
			// WebAuthn challenge for all, and a challenge here is
			// one key's. The default key (or the oldest) is offered.
			if fc, err := s.svc.CreateChallenge(ctx, a, user, mfa.ChallengeRequest{Method: m.ID}); err == nil {
				offered = append(offered, offer{c: fc, m: m})
			} else {
				s.log.Warn("privacyIDEA challenge: security key not offered", "err", err)
			}
			break
		}
	}
	ids := make([]string, len(offered))
	for i, o := range offered {
		ids[i] = o.c.ID
	}
	tid := mfa.OfferID(ids)
	var entries []map[string]any
	for _, o := range offered {
		e, err := s.entry(ctx, tid, o)
		if err != nil {
			return answer{}, err
		}
		entries = append(entries, e)
	}
	for _, m := range methods {
		if m.Kind == mfa.KindTOTP && m.ID != primary.ID {
			entries = append(entries, totpEntry(tid, m))
		}
	}
	return challengeAnswer(tid, entries), nil
}

type offer struct {
	c mfa.Challenge
	m mfa.Method
}

// pick chooses the method to start: the one serial names, else the first
// of type, else the default (SigninMethods lists it first).
func pick(methods []mfa.Method, serial, typ string) (mfa.Method, mfa.Channel, error) {
	var want func(m mfa.Method) (mfa.Channel, bool)
	switch strings.ToLower(typ) {
	case "":
		// A Temporary Access Pass is typed as the pass (/validate/check),
		// never triggered.
		want = func(m mfa.Method) (mfa.Channel, bool) { return "", m.Kind != mfa.KindTAP }
	case "totp", "hotp":
		want = func(m mfa.Method) (mfa.Channel, bool) { return "", m.Kind == mfa.KindTOTP }
	case "webauthn", "passkey", "u2f":
		want = func(m mfa.Method) (mfa.Channel, bool) { return "", m.Kind == mfa.KindFIDO }
	case "sms":
		want = func(m mfa.Method) (mfa.Channel, bool) {
			return mfa.ChannelSMS, m.Kind == mfa.KindPhone && m.Slot == mfa.SlotMobile && m.Extension == ""
		}
	case "push", "call", "voice":
		want = func(m mfa.Method) (mfa.Channel, bool) { return mfa.ChannelVoice, m.Kind == mfa.KindPhone }
	default:
		return mfa.Method{}, "", parameterError("type %q is not one this gateway offers: use totp, sms, push (a voice call) or webauthn", truncate(typ, 20))
	}
	for _, m := range methods {
		if serial != "" && m.ID != serial {
			continue
		}
		if ch, ok := want(m); ok {
			return m, ch, nil
		}
	}
	if serial != "" {
		return mfa.Method{}, "", parameterError("the user has no usable method with serial %q of type %q", truncate(serial, 40), truncate(typ, 20))
	}
	return mfa.Method{}, "", parameterError("the user has no usable method of type %q", truncate(typ, 20))
}

// entry describes one started challenge as a multi_challenge element.
func (s *Server) entry(ctx context.Context, tid string, o offer) (map[string]any, error) {
	lang := o.m.Language
	e := map[string]any{"transaction_id": tid, "serial": o.m.ID, "image": "", "attributes": nil}
	switch {
	case o.m.Kind == mfa.KindTOTP:
		return totpEntry(tid, o.m), nil
	case isPoll(o.c):
		// privacyIDEA's plugins poll only for push tokens (type "push",
		// client_mode "poll"), so the call is announced as one.
		e["type"], e["client_mode"] = "push", "poll"
		e["message"] = say(lang, msgCall, phone.Mask(o.m.Phone), o.c.NumberMatch)
		if o.c.NumberMatch == "" {
			e["message"] = say(lang, msgCallNoMatch, phone.Mask(o.m.Phone))
		}
	case o.m.Kind == mfa.KindPhone:
		e["type"], e["client_mode"] = "sms", "interactive"
		e["message"] = say(lang, msgSMS, phone.Mask(o.m.Phone))
	case o.m.Kind == mfa.KindFIDO:
		raw, err := s.svc.AssertionOptions(ctx, o.c)
		if err != nil {
			return nil, err
		}
		req, err := signRequest(raw)
		if err != nil {
			return nil, err
		}
		e["type"], e["client_mode"] = "webauthn", "webauthn"
		e["message"] = say(lang, msgKey, o.m.Label)
		e["attributes"] = map[string]any{"webAuthnSignRequest": req, "hideResponseInput": true}
	}
	return e, nil
}

func totpEntry(tid string, m mfa.Method) map[string]any {
	return map[string]any{"transaction_id": tid, "serial": m.ID, "type": "totp", "client_mode": "interactive",
		"message": say(m.Language, msgTOTP, m.Label), "image": "", "attributes": nil}
}

// signRequest reshapes the fido package's PublicKeyCredentialRequestOptions
// ({"publicKey":{challenge, rpId, allowCredentials, userVerification,
// timeout}}) into privacyIDEA's webAuthnSignRequest, whose fields are the
// same with transports on each credential and a timeout always present
// (privacyidea/lib/tokens/webauthntoken.py create_challenge).
func signRequest(raw json.RawMessage) (map[string]any, error) {
	var o struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			Timeout          int64  `json:"timeout"`
			AllowCredentials []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("read assertion options: %w", err)
	}
	pk := o.PublicKey
	if pk.Timeout <= 0 {
		pk.Timeout = 60000 // privacyIDEA's webauthn_timeout default
	}
	allow := make([]any, len(pk.AllowCredentials))
	for i, c := range pk.AllowCredentials {
		allow[i] = map[string]any{"id": c.ID, "type": c.Type, "transports": []string{"usb", "nfc", "ble", "internal"}}
	}
	return map[string]any{"challenge": pk.Challenge, "rpId": pk.RPID, "userVerification": pk.UserVerification,
		"timeout": pk.Timeout, "allowCredentials": allow}, nil
}

// challengeAnswer is the CHALLENGE reply (privacyidea/lib/token/auth.py
// create_challenges_from_tokens): the entries, their messages, the one
// transaction ID, the fields of the last entry repeated at the top (which
// privacyIDEA keeps for old plugins) and preferred_client_mode, here the
// user's default method's mode, since it is listed first.
func challengeAnswer(tid string, entries []map[string]any) answer {
	msgs := make([]string, len(entries))
	tids := make([]string, len(entries))
	var unique []string
	for i, e := range entries {
		msgs[i] = e["message"].(string)
		tids[i] = tid
		if !contains(unique, msgs[i]) {
			unique = append(unique, msgs[i])
		}
	}
	last := entries[len(entries)-1]
	d := map[string]any{"multi_challenge": entries, "messages": msgs, "message": strings.Join(unique, ", "),
		"transaction_id": tid, "transaction_ids": tids, "preferred_client_mode": entries[0]["client_mode"],
		"serial": last["serial"], "type": last["type"], "client_mode": last["client_mode"],
		"attributes": last["attributes"], "image": ""}
	return answer{value: false, auth: challenge, detail: d}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// answerCode checks a code typed for a transaction: its SMS code or any
// of the user's authenticator-app codes (mfa.VerifyCode's rule: one code,
// one attempt). The other offers of the transaction are used up.
func (s *Server) answerCode(ctx context.Context, a mfa.Actor, user string, ids []string, code string) (answer, error) {
	c, err := s.svc.VerifyCode(ctx, a, user, ids, code)
	if err != nil {
		return refusal("Response did not match the challenge", err)
	}
	return s.matched(ctx, user, ids, c)
}

func (s *Server) matched(ctx context.Context, user string, ids []string, c mfa.Challenge) (answer, error) {
	if err := s.svc.Retire(ctx, user, ids); err != nil {
		return answer{}, err
	}
	return answer{value: true, auth: accept, detail: map[string]any{
		"message": "Found matching challenge", "serial": c.Method, "type": kindType(c)}}, nil
}

// finalise answers privacyIDEA's push finalisation: the transaction ID
// with an empty pass once the call was confirmed (mfa.Redeem: once only).
func (s *Server) finalise(ctx context.Context, a mfa.Actor, user string, ids []string) (answer, error) {
	for _, id := range ids {
		c, err := s.svc.Challenge(ctx, id)
		if err != nil || c.User != user {
			return rejected(msgNoTransaction), nil
		}
		if !isPoll(c) {
			continue
		}
		c, err = s.svc.Redeem(ctx, a, user, id)
		if err != nil {
			return refusal("", err)
		}
		return s.matched(ctx, user, ids, c)
	}
	return rejected("This transaction is answered with a code or a security key, not by polling; enter the code"), nil
}

// answerWebAuthn verifies a security key's answer in the fields
// privacyIDEA's pi-webauthn.js posts: credentialid as the browser's
// base64url id; clientdata, authenticatordata and signaturedata in
// base64url that may be broken into lines ("\r\n" every 76 characters, as
// its base64 encoder writes them); userhandle as text. They are put back
// together as the AuthenticationResponseJSON the fido package verifies.
func (s *Server) answerWebAuthn(ctx context.Context, a mfa.Actor, user, tid string, p params) (answer, error) {
	ids, ok := mfa.ParseOffer(tid)
	if !ok {
		return rejected(msgNoTransaction), nil
	}
	var fc *mfa.Challenge
	for _, id := range ids {
		c, err := s.svc.Challenge(ctx, id)
		if err != nil || c.User != user {
			return rejected(msgNoTransaction), nil
		}
		if c.Kind == mfa.KindFIDO {
			fc = &c
		}
	}
	if fc == nil {
		return rejected("This transaction offered no security key"), nil
	}
	field := func(names ...string) (string, error) {
		for _, n := range names {
			if v, ok := p[n]; ok {
				v = stripBreaks(v)
				if _, err := b64.DecodeString(strings.TrimRight(v, "=")); err != nil {
					return "", parameterError("%s is not base64url: %v", n, err)
				}
				return strings.TrimRight(v, "="), nil
			}
		}
		return "", parameterError("Missing parameter: '%s'", names[0])
	}
	id, err := field("credentialid", "credential_id")
	if err != nil {
		return answer{}, err
	}
	cdj, err := field("clientdata", "clientDataJSON")
	if err != nil {
		return answer{}, err
	}
	ad, err := field("authenticatordata", "authenticatorData")
	if err != nil {
		return answer{}, err
	}
	sig, err := field("signaturedata", "signature")
	if err != nil {
		return answer{}, err
	}
	// userhandle is not sent on: keys registered here are not
	// discoverable credentials of a user handle privacyIDEA would know,
	// and the credential ID already names the key.
	resp, _ := json.Marshal(map[string]any{"id": id, "rawId": id, "type": "public-key",
		"response": map[string]string{"clientDataJSON": cdj, "authenticatorData": ad, "signature": sig}})
	c, err := s.svc.VerifyFIDO(ctx, a, fc.ID, mfa.FIDOAssertion{ResponseJSON: resp})
	if err != nil {
		return refusal("Response did not match the challenge", err)
	}
	return s.matched(ctx, user, ids, c)
}

// stripBreaks removes what privacyIDEA's webauthn_b64_decode ignores:
// anything that is not a base64 or base64url character.
func stripBreaks(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
			return r
		case r == '+':
			return '-'
		case r == '/':
			return '_'
		}
		return -1
	}, s)
}

func kindType(c mfa.Challenge) string {
	switch {
	case c.Kind == mfa.KindTOTP:
		return "totp"
	case c.Kind == mfa.KindFIDO:
		return "webauthn"
	case isPoll(c):
		return "push"
	}
	return "sms"
}

const (
	msgNoTokens      = "The user has no tokens assigned"
	msgNoTransaction = "No open transaction with this transaction_id for this user: it is unknown, expired or answered; start a new one"
)

func rejected(msg string) answer {
	return answer{value: false, auth: reject, detail: map[string]any{"message": msg}}
}

// refusal is the REJECT for an mfa refusal, its reason in detail.message
// behind privacyIDEA's own wording where it has one. Errors that are not
// refusals (the store failed) are not turned into a REJECT: a plugin must
// see an error, not a wrong code.
func refusal(prefix string, err error) (answer, error) {
	var e *mfa.Error
	if !errors.As(err, &e) {
		return answer{}, err
	}
	msg := e.Message
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	return answer{value: false, auth: reject, detail: map[string]any{"message": msg, "reason": string(e.Code)}}, nil
}

func mfaMessage(err error) string {
	var e *mfa.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// has reports whether any of the names is a parameter.
func (p params) has(names ...string) bool {
	for _, n := range names {
		if _, ok := p[n]; ok {
			return true
		}
	}
	return false
}
