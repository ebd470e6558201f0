package radius

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"mfagate/config"
	"mfagate/mfa"
	"mfagate/phone"
)

// verdict is what one request is answered with.
type verdict struct {
	code    radius.Code
	lines   []string           // Reply-Message text
	raw     []radius.Attribute // Reply-Message attributes passed on as they came (an upstream's), after lines
	state   string             // Access-Challenge: the transaction
	timeout time.Duration      // Access-Challenge: Session-Timeout
	reason  string             // for the log: why a reject
}

// Results as mfagate_radius_requests_total counts them.
func (v verdict) result() string {
	switch v.code {
	case radius.CodeAccessAccept:
		return "accept"
	case radius.CodeAccessChallenge:
		return "challenge"
	}
	return "reject"
}

// answer decides and encodes the reply to an admitted request; nil when
// the daemon is stopping, the store failed or the upstream gave no answer,
// so that the gateway asks again (another server, or this one once it
// answers) rather than take a failure for a wrong code. reason is then why,
// for mfagate_radius_dropped_total.
func (s *Server) answer(ctx context.Context, r *request) (b []byte, reason string) {
	ctx, cancel := context.WithTimeout(ctx, r.client.timeout+30*time.Second)
	defer cancel()
	v, err := s.decide(ctx, r)
	if err != nil {
		if ue := (*errUpstream)(nil); errors.As(err, &ue) {
			return nil, ue.reason
		}
		if ctx.Err() == nil {
			s.log.Error("RADIUS request failed", "client", r.client.name, "err", err)
		}
		return nil, dropUnanswered
	}
	attrs := radius.Attributes{}
	if v.state != "" {
		attrs.Add(rfc2865.State_Type, radius.Attribute(v.state))
	}
	for _, m := range replyMessages(v.lines) {
		attrs.Add(rfc2865.ReplyMessage_Type, m)
	}
	for _, m := range v.raw {
		attrs.Add(rfc2865.ReplyMessage_Type, m)
	}
	switch v.code {
	case radius.CodeAccessChallenge:
		// RFC 2865 §5.27: in an Access-Challenge, Session-Timeout is how
		// long the NAS should wait for the user's response.
		secs := max(int64(v.timeout/time.Second), 1)
		attrs.Add(rfc2865.SessionTimeout_Type, radius.NewInteger(uint32(secs)))
	case radius.CodeAccessAccept:
		attrs = append(attrs, r.client.accept...)
	}
	b, err = encodeReply(r, v.code, attrs)
	if err != nil {
		s.log.Error("RADIUS reply not encoded", "client", r.client.name, "err", err)
		return nil, dropUnanswered
	}
	s.metrics.RadiusRequest(r.client.name, r.client.mode, v.result())
	s.log.Debug("RADIUS request answered", "client", r.client.name, "user", r.user, "result", v.result(), "reason", v.reason)
	return b, ""
}

func actor(c *client) mfa.Actor { return mfa.Actor{Name: "radius:" + c.name} }

// decide answers a request. An error is not a refusal: the store failed or
// the daemon is stopping.
func (s *Server) decide(ctx context.Context, r *request) (verdict, error) {
	lang := s.cfg.Language
	switch {
	case r.chap:
		return reject(lang, msgCHAP, "chap"), nil
	case r.user == "" || s.svc.CheckUserID(r.user) != nil:
		return reject(lang, msgNoUser, "invalid_user_id"), nil
	}
	a := actor(r.client)
	if r.state != nil {
		// The answer to our challenge, in either mode: the first factor
		// was checked before the challenge was sent.
		return s.continued(ctx, a, r)
	}
	code := r.password
	if r.client.mode == config.RadiusProxy {
		v, ok, err := s.firstFactor(ctx, a, r)
		if err != nil || !ok {
			return v, err
		}
		// The User-Password was the directory password: it cannot also
		// be a code, so the second factor starts with a challenge.
		code = ""
	}
	return s.secondFactor(ctx, a, r, code)
}

// secondFactor answers the first request of a sign-in whose first factor
// is checked (by the gateway, or by the upstream in proxy mode): password
// is the User-Password as a code, a trigger or empty.
func (s *Server) secondFactor(ctx context.Context, a mfa.Actor, r *request, password string) (verdict, error) {
	lang := s.cfg.Language
	v, err := s.svc.GetUser(ctx, r.user)
	if err != nil {
		return verdict{}, err
	}
	if v.State != mfa.StateActive {
		return s.notEnrolled(ctx, a, r.user, v.State)
	}
	if s.wantsChallenge(password) {
		_, methods, err := s.svc.SigninMethods(ctx, r.user)
		if err != nil {
			return refusal(lang, err)
		}
		opts := options(methods)
		if len(opts) == 0 {
			return reject(lang, msgNoMethod, string(mfa.CodeNoUsableMethod)), nil
		}
		return s.start(ctx, a, r, opts, 0, "")
	}
	c, err := s.svc.SignInWithCode(ctx, a, r.user, password)
	if err != nil {
		return s.codeRefusal(ctx, r.user, err)
	}
	return accepted("method=" + c.Method), nil
}

// wantsChallenge reports whether a password asks for a challenge rather
// than being a code: empty, or [radius] trigger.
func (s *Server) wantsChallenge(pw string) bool {
	return pw == "" || (s.cfg.Trigger != "" && pw == s.cfg.Trigger)
}

// notEnrolled answers a user whose MFA is off or pending, and a user never
// seen (the same answer, so it reveals nothing): [radius] mfa_off decides.
func (s *Server) notEnrolled(ctx context.Context, a mfa.Actor, user string, st mfa.State) (verdict, error) {
	if s.cfg.MFAOff == config.MFAOffAccept {
		if err := s.svc.AuditExternalSignin(ctx, a, user, "", "result=accept reason=mfa_"+string(st)); err != nil {
			return verdict{}, err
		}
		return accepted("mfa_" + string(st)), nil
	}
	if err := s.svc.AuditExternalSignin(ctx, a, user, "", "result=reject reason=mfa_"+string(st)); err != nil {
		return verdict{}, err
	}
	return reject(s.cfg.Language, msgNoMFA, "mfa_"+string(st)), nil
}

// option is one way to verify that a challenge can offer by number: a
// phone by SMS or by call, or an authenticator app.
type option struct {
	m  mfa.Method
	ch mfa.Channel // phone only
}

// maxOptions keeps option numbers to one digit, so that a number can never
// be taken for a code.
const maxOptions = 9

// options lists what the user can verify with over RADIUS, the default
// method first, a phone's own channel before its other one. Security keys
// need a browser and are left out; SMS only goes to a mobile number
// without an extension.
func options(methods []mfa.Method) []option {
	var out []option
	for _, m := range methods {
		switch m.Kind {
		case mfa.KindTOTP:
			out = append(out, option{m: m})
		case mfa.KindPhone:
			sms := m.Slot == mfa.SlotMobile && m.Extension == ""
			if m.Channel == mfa.ChannelVoice || !sms {
				out = append(out, option{m: m, ch: mfa.ChannelVoice})
				if sms {
					out = append(out, option{m: m, ch: mfa.ChannelSMS})
				}
			} else {
				out = append(out, option{m: m, ch: mfa.ChannelSMS}, option{m: m, ch: mfa.ChannelVoice})
			}
		}
	}
	if len(out) > maxOptions {
		out = out[:maxOptions]
	}
	return out
}

func (o option) voice() bool { return o.m.Kind == mfa.KindPhone && o.ch == mfa.ChannelVoice }

// start starts option i and answers with its challenge, or, for a call
// confirmed within the client's timeout, with Access-Accept at once. prefix
// is put before the challenge's text.
func (s *Server) start(ctx context.Context, a mfa.Actor, r *request, opts []option, i int, prefix string) (verdict, error) {
	o := opts[i]
	c, err := s.svc.CreateChallenge(ctx, a, r.user, mfa.ChallengeRequest{Method: o.m.ID, Channel: o.ch})
	if err != nil {
		return refusal(s.lang(o.m), err)
	}
	if o.voice() && r.client.timeout > 0 {
		v, done, err := s.awaitCall(ctx, a, r, []string{c.ID}, c.ID, o.m, r.client.timeout)
		if err != nil || done {
			return v, err
		}
	}
	return s.challenge(r, opts, i, c, prefix), nil
}

// challenge is the Access-Challenge for challenge c of option i: its
// prompt, then the other options by number.
func (s *Server) challenge(r *request, opts []option, i int, c mfa.Challenge, prefix string) verdict {
	o := opts[i]
	lang := s.lang(o.m)
	var prompt string
	masked := phone.Mask(o.m.Phone)
	switch {
	case o.m.Kind == mfa.KindTOTP:
		prompt = say(lang, msgTOTP, o.m.Label)
	case o.voice() && c.NumberMatch != "":
		prompt = say(lang, msgCall, masked, c.NumberMatch)
	case o.voice():
		prompt = say(lang, msgCallNoMatch, masked)
	default:
		prompt = say(lang, msgSMS, masked)
	}
	if prefix != "" {
		prompt = prefix + " " + prompt
	}
	lines := []string{prompt}
	var others []string
	for j, p := range opts {
		if j == i {
			continue
		}
		switch {
		case p.m.Kind == mfa.KindTOTP:
			others = append(others, say(lang, msgOptTOTP, j+1, p.m.Label))
		case p.voice():
			others = append(others, say(lang, msgOptCall, j+1, phone.Mask(p.m.Phone)))
		default:
			others = append(others, say(lang, msgOptSMS, j+1, phone.Mask(p.m.Phone)))
		}
	}
	if len(others) > 0 {
		sep := ", "
		if lang == "ja" {
			sep = "、"
		}
		lines = append(lines, say(lang, msgOthers, strings.Join(others, sep)))
	}
	return verdict{code: radius.CodeAccessChallenge, lines: lines, state: mfa.OfferID([]string{c.ID}),
		timeout: c.ExpiresAt.Sub(s.now()), reason: "challenge " + string(c.Kind) + " " + string(c.Channel)}
}

func (s *Server) lang(m mfa.Method) string {
	if m.Language != "" {
		return m.Language
	}
	return s.cfg.Language
}

// awaitCall waits up to wait for the call of challenge id to be confirmed
// and answers the sign-in with it (mfa.Redeem: an approval answers one
// sign-in, once). done is false when the call is still going at the end of
// the wait; a call that ended unconfirmed is an Access-Reject.
func (s *Server) awaitCall(ctx context.Context, a mfa.Actor, r *request, ids []string, id string, m mfa.Method, wait time.Duration) (verdict, bool, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := s.svc.Redeem(ctx, a, r.user, id)
		if err == nil {
			if err := s.svc.Retire(ctx, r.user, ids); err != nil {
				return verdict{}, false, err
			}
			return accepted("call " + c.ID), true, nil
		}
		if mfa.CodeOf(err) != mfa.CodeChallengePending {
			v, err := refusal(s.lang(m), err)
			return v, true, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return verdict{}, false, nil
		}
		if _, err := s.svc.WaitChallenge(ctx, id, left); err != nil {
			return verdict{}, false, err
		}
	}
}

// continued answers a request that carries the State of a challenge sent
// before: a code, an empty answer after a call, or the number of another
// option.
func (s *Server) continued(ctx context.Context, a mfa.Actor, r *request) (verdict, error) {
	lang := s.cfg.Language
	ids, ok := mfa.ParseOffer(string(r.state))
	if !ok {
		return s.unknownState(ctx, a, r)
	}
	var offered []mfa.Challenge
	for _, id := range ids {
		c, err := s.svc.Challenge(ctx, id)
		if errors.Is(err, mfa.ErrNotFound) || mfa.CodeOf(err) != "" || (err == nil && c.User != r.user) {
			return s.unknownState(ctx, a, r)
		}
		if err != nil {
			return verdict{}, err
		}
		offered = append(offered, c)
	}
	_, methods, err := s.svc.SigninMethods(ctx, r.user)
	if err != nil {
		return refusal(lang, err)
	}
	opts := options(methods)
	cur := -1 // the option the state's challenge is of
	for j, o := range opts {
		if o.m.ID == offered[0].Method && (o.m.Kind != mfa.KindPhone || o.ch == offered[0].Channel) {
			cur = j
			break
		}
	}
	if cur >= 0 {
		lang = s.lang(opts[cur].m)
	}
	switch {
	case optionNumber.MatchString(r.password):
		n, _ := strconv.Atoi(r.password)
		if n > len(opts) || cur < 0 {
			if cur < 0 {
				return reject(lang, msgNoTransaction, "option_without_challenge"), nil
			}
			return s.challenge(r, opts, cur, offered[0], say(lang, msgNoOption, r.password)), nil
		}
		// The other offer is used up: its code or call no longer answers
		// this sign-in.
		if err := s.svc.Retire(ctx, r.user, ids); err != nil {
			return verdict{}, err
		}
		return s.start(ctx, a, r, opts, n-1, "")
	case s.wantsChallenge(r.password):
		for _, c := range offered {
			if c.Kind != mfa.KindPhone || c.Channel != mfa.ChannelVoice {
				continue
			}
			m := mfa.Method{Language: lang}
			if cur >= 0 {
				m = opts[cur].m
			}
			v, done, err := s.awaitCall(ctx, a, r, ids, c.ID, m, r.client.timeout)
			if err != nil || done {
				return v, err
			}
			if cur < 0 {
				return reject(lang, msgCallEnded, "call_pending"), nil
			}
			return s.challenge(r, opts, cur, c, say(lang, msgNotConfirmed)), nil
		}
		// Enter without a code: ask again.
		if cur < 0 {
			return reject(lang, msgNoTransaction, "empty_answer"), nil
		}
		return s.challenge(r, opts, cur, offered[0], ""), nil
	}
	c, err := s.svc.VerifyCode(ctx, a, r.user, ids, r.password)
	if err != nil {
		return s.codeRefusal(ctx, r.user, err)
	}
	if err := s.svc.Retire(ctx, r.user, ids); err != nil {
		return verdict{}, err
	}
	return accepted("method=" + c.Method), nil
}

// optionNumber is a reply that picks another option: one digit, never a
// code (codes have 6 digits or more).
var optionNumber = regexp.MustCompile(`^[1-9]$`)

// unknownState rejects a State that names no challenge of this user: not
// one of ours, another user's, or gone. Nothing changes but the audit log.
func (s *Server) unknownState(ctx context.Context, a mfa.Actor, r *request) (verdict, error) {
	if err := s.svc.AuditExternalSignin(ctx, a, r.user, "", "result=reject reason=unknown_state"); err != nil {
		return verdict{}, err
	}
	return reject(s.cfg.Language, msgNoTransaction, "unknown_state"), nil
}

// codeRefusal rejects a code mfa refused, in the user's language.
func (s *Server) codeRefusal(ctx context.Context, user string, err error) (verdict, error) {
	lang := s.cfg.Language
	if v, gerr := s.svc.GetUser(ctx, user); gerr == nil {
		for _, m := range v.Methods {
			if m.ID == v.User.DefaultMethod && m.Language != "" {
				lang = m.Language
			}
		}
	}
	return refusal(lang, err)
}

// refusal turns an mfa refusal into an Access-Reject with a text the user
// can act on. Errors that are not refusals are passed on.
func refusal(lang string, err error) (verdict, error) {
	var e *mfa.Error
	if !errors.As(err, &e) {
		return verdict{}, err
	}
	m := msgFailed
	var args []any
	switch e.Code {
	case mfa.CodeInvalidCode, mfa.CodeInvalidCodeFormat, mfa.CodeReplayedCode:
		m = msgWrongCode
	case mfa.CodeChallengeExpired:
		m = msgExpired
	case mfa.CodeChallengeLocked:
		m = msgLocked
	case mfa.CodeUserLocked:
		m = msgUserLocked
	case mfa.CodeRateLimited:
		m, args = msgRateLimited, []any{strconv.Itoa(int(max(e.RetryAfter, time.Second).Round(time.Second).Seconds())) + " s"}
	case mfa.CodePhoneBlocked:
		m = msgPhoneBlocked
	case mfa.CodeMFAOff:
		m = msgNoMFA
	case mfa.CodeNoUsableMethod, mfa.CodeNoConfirmedMethod:
		m = msgNoMethod
	case mfa.CodeUnknownChallenge, mfa.CodeChallengeRedeemed, mfa.CodeChallengeFinished:
		m = msgNoTransaction
	case mfa.CodeChallengeNotApproved:
		m = msgCallEnded
	case mfa.CodeTAPSigninOff:
		m = msgTAPSigninOff
	case mfa.CodeTAPExpired, mfa.CodeTAPUsed:
		m = msgTAPSpent
	}
	v := reject(lang, m, string(e.Code))
	v.lines = []string{say(lang, m, args...)}
	return v, nil
}

func reject(lang string, m message, reason string) verdict {
	return verdict{code: radius.CodeAccessReject, lines: []string{say(lang, m)}, reason: reason}
}

func accepted(reason string) verdict {
	return verdict{code: radius.CodeAccessAccept, reason: reason}
}

// The State of an Access-Challenge is an mfa offer (mfa.OfferID): the
// challenges it offered, so any node can take the answer (RFC 2865 §5.24
// lets the server put anything in State).
