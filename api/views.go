package api

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"

	"mfagate/mfa"
	"mfagate/phone"
)

// JSON shapes of API.md. Times are RFC 3339 UTC; absent times are null.

type userJSON struct {
	User          string       `json:"user"`
	MFA           mfaJSON      `json:"mfa"`
	DefaultMethod *string      `json:"default_method"`
	Methods       []methodJSON `json:"methods"`
	Warnings      []string     `json:"warnings"`
}

type mfaJSON struct {
	State            string     `json:"state"`
	ActivatesAt      *time.Time `json:"activates_at"`
	LastTestSigninAt *time.Time `json:"last_test_signin_at"`
	PhoneBlocked     bool       `json:"phone_blocked"`
	Failures         int        `json:"consecutive_failures"`
}

type methodJSON struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Label       string     `json:"label"`
	Confirmed   bool       `json:"confirmed"`
	Default     bool       `json:"default"`
	Slot        string     `json:"slot,omitempty"`
	Channel     string     `json:"channel,omitempty"`
	Phone       string     `json:"phone,omitempty"`
	Extension   bool       `json:"has_extension,omitempty"`
	Language    string     `json:"language,omitempty"`
	Channels    []string   `json:"channels,omitempty"` // External MFA page: the channels this sign-in may use
	AAGUID      string     `json:"aaguid,omitempty"`
	Model       string     `json:"model,omitempty"` // the authenticator's name from FIDO metadata
	SignCount   *uint32    `json:"sign_count,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"` // tap only
	OneTime     *bool      `json:"one_time,omitempty"`   // tap only
}

type deliveryJSON struct {
	Modem    string `json:"modem,omitempty"`
	Attempts int    `json:"attempts"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

type challengeJSON struct {
	ID           string          `json:"id"`
	User         string          `json:"user"`
	Method       string          `json:"method"`
	Kind         string          `json:"kind"`
	Channel      string          `json:"channel,omitempty"`
	Purpose      string          `json:"purpose"`
	Status       string          `json:"status"`
	Reason       string          `json:"reason,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	ExpiresAt    time.Time       `json:"expires_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	AttemptsLeft int             `json:"attempts_left"`
	NumberMatch  string          `json:"number_match,omitempty"`
	Delivery     *deliveryJSON   `json:"delivery,omitempty"`
	WebAuthn     json.RawMessage `json:"webauthn,omitempty"`
}

type totpJSON struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QRPNG  string `json:"qr_png"`
}

type eventJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	User      string    `json:"user,omitempty"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor,omitempty"`
	Method    string    `json:"method,omitempty"`
	Challenge string    `json:"challenge,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

type jobJSON struct {
	ID        string    `json:"id"`
	Challenge string    `json:"challenge"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	State     string    `json:"state"`
	Modem     string    `json:"modem,omitempty"`
	Attempts  int       `json:"attempts"`
	Reason    string    `json:"reason,omitempty"`
	Priority  int       `json:"priority"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (s *Server) userView(v mfa.UserView) userJSON {
	u := userJSON{
		User: v.User.ID,
		MFA: mfaJSON{State: string(v.State), LastTestSigninAt: timePtr(v.User.LastTestSigninAt),
			PhoneBlocked: v.User.PhoneBlocked, Failures: v.User.ConsecutiveFailures},
		Methods:  make([]methodJSON, 0, len(v.Methods)),
		Warnings: v.Warnings,
	}
	if v.State == mfa.StatePending {
		u.MFA.ActivatesAt = timePtr(v.User.ActivatesAt)
	}
	if v.User.DefaultMethod != "" {
		d := v.User.DefaultMethod
		u.DefaultMethod = &d
	}
	if u.Warnings == nil {
		u.Warnings = []string{}
	}
	for _, m := range v.Methods {
		mj := s.methodView(m)
		mj.Default = m.ID == v.User.DefaultMethod
		u.Methods = append(u.Methods, mj)
	}
	return u
}

func (s *Server) methodView(m mfa.Method) methodJSON {
	j := methodJSON{ID: m.ID, Kind: string(m.Kind), Label: m.Label, Confirmed: m.Confirmed,
		Slot: string(m.Slot), Channel: string(m.Channel), Language: m.Language,
		Extension: m.Extension != "", CreatedAt: m.CreatedAt.UTC(), ConfirmedAt: timePtr(m.ConfirmedAt),
		LastUsedAt: timePtr(m.LastUsedAt)}
	if m.Phone != "" {
		j.Phone = phone.Mask(m.Phone)
	}
	if m.FIDO != nil {
		j.AAGUID = formatUUID(m.FIDO.AAGUID)
		if s.models != nil && len(m.FIDO.AAGUID) == 16 {
			j.Model = s.models([16]byte(m.FIDO.AAGUID))
		}
		n := m.FIDO.SignCount
		j.SignCount = &n
	}
	if m.Kind == mfa.KindTAP {
		one := m.OneTime
		j.ExpiresAt, j.OneTime = timePtr(m.ExpiresAt), &one
	}
	return j
}

func formatUUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func challengeView(c mfa.Challenge) challengeJSON {
	j := challengeJSON{ID: c.ID, User: c.User, Method: c.Method, Kind: string(c.Kind), Channel: string(c.Channel),
		Purpose: string(c.Purpose), Status: string(c.Status), Reason: c.Reason, CreatedAt: c.CreatedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(), FinishedAt: timePtr(c.FinishedAt), AttemptsLeft: c.AttemptsLeft,
		NumberMatch: c.NumberMatch}
	if c.Kind == mfa.KindPhone {
		j.Delivery = &deliveryJSON{Modem: c.Delivery.Modem, Attempts: c.Delivery.Attempts, Status: c.Delivery.Status, Reason: c.Delivery.Reason}
	}
	return j
}

// totpView shows an enrollment with its otpauth URI drawn as a QR code for
// the app to scan.
func totpView(t *mfa.TOTPEnrollment) (*totpJSON, error) {
	key, err := otp.NewKeyFromURL(t.URI)
	if err != nil {
		return nil, fmt.Errorf("totp uri: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, fmt.Errorf("render totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode totp qr code: %w", err)
	}
	return &totpJSON{Secret: t.Secret, URI: t.URI, QRPNG: base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

func eventView(e mfa.Event) eventJSON {
	return eventJSON{ID: e.ID, At: e.At.UTC(), User: e.User, Type: e.Type, Actor: e.Actor, Method: e.Method, Challenge: e.Challenge, Detail: e.Detail}
}

func jobView(j mfa.Job) jobJSON {
	return jobJSON{ID: j.ID, Challenge: j.Challenge, Channel: string(j.Channel), To: phone.Mask(j.To), State: string(j.State),
		Modem: j.Modem, Attempts: j.Attempts, Reason: j.Reason, Priority: j.Priority, CreatedAt: j.CreatedAt.UTC(),
		UpdatedAt: j.UpdatedAt.UTC(), ExpiresAt: j.ExpiresAt.UTC()}
}
