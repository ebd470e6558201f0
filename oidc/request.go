package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// AuthRequest is a parsed authorization request (OpenID Connect Core
// §3.2.2.1, as Entra sends it: the reference, "Microsoft Entra ID call to
// the external identity provider").
type AuthRequest struct {
	Client          *Client
	RedirectURI     string
	Nonce           string
	State           string // "" when absent; then the answer carries none
	IDTokenHint     string // unverified; see HintVerifier.Verify
	ClientRequestID string // Entra's correlation GUID, for logs; "" if absent or not loggable
	// ACR is the acr the answer will carry: the first value requested in
	// claims that a possession factor satisfies, possessionorinherence
	// when claims asks for none.
	ACR string
	// AMRValues are the amr values claims asks for; empty means any.
	AMRValues []string
}

// AMRAllowed reports whether an answer with amr is what the request asked
// for (always, when it named no amr values).
func (r *AuthRequest) AMRAllowed(amr string) bool {
	return len(r.AMRValues) == 0 || slices.Contains(r.AMRValues, amr)
}

// AuthError is a refused authorization request. When RedirectURI is set
// the client and redirect URI were verified, and the error goes back to
// the client the OIDC way (ErrorFields posted to RedirectURI); otherwise
// the redirect URI cannot be trusted and the user gets a plain error page
// (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
type AuthError struct {
	Code        string // OAuth error code: invalid_request, access_denied, login_required, temporarily_unavailable…
	Description string // error_description: ASCII, without the request's values
	Reason      string // fine-grained cause for audit and metrics, like "missing_nonce"
	RedirectURI string
	State       string
	ClientID    string // "" when the client is unknown
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("authorization request refused: %s (%s): %s", e.Code, e.Reason, e.Description)
}

// Redirectable reports whether the error may be posted back to the client.
func (e *AuthError) Redirectable() bool { return e.RedirectURI != "" }

// ErrorFields are the form fields of the error answer.
func (e *AuthError) ErrorFields() []Field {
	f := []Field{{"error", e.Code}}
	if e.Description != "" {
		f = append(f, Field{"error_description", e.Description})
	}
	if e.State != "" {
		f = append(f, Field{"state", e.State})
	}
	return f
}

// OAuth error codes used here.
const (
	ErrCodeInvalidRequest         = "invalid_request"
	ErrCodeUnsupportedResponse    = "unsupported_response_type"
	ErrCodeInvalidScope           = "invalid_scope"
	ErrCodeAccessDenied           = "access_denied"
	ErrCodeLoginRequired          = "login_required"
	ErrCodeTemporarilyUnavailable = "temporarily_unavailable"
	ErrCodeServerError            = "server_error"
	// Codes of errors shown as a plain page, never sent back.
	ErrCodeUnknownClient  = "unauthorized_client"
	ErrCodeBadRedirectURI = "invalid_redirect_uri"
)

// MaxRequestBytes bounds an authorization request body.
const MaxRequestBytes = 64 << 10

// ParseAuthRequest reads an authorization request from a GET query or a
// POST form body (Entra POSTs, "because the list of parameters passed to
// the provider is large"). Parameters the reference does not list are
// ignored, as it asks. An error is always an *AuthError.
func ParseAuthRequest(w http.ResponseWriter, r *http.Request, clients Clients) (*AuthRequest, error) {
	var vals url.Values
	switch r.Method {
	case http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, &AuthError{Code: ErrCodeInvalidRequest, Reason: "bad_query", Description: "the query string is not URL-encoded"}
		}
		vals = q
	case http.MethodPost:
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" {
			return nil, &AuthError{Code: ErrCodeInvalidRequest, Reason: "bad_content_type", Description: "a POST request must be application/x-www-form-urlencoded"}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		if err := r.ParseForm(); err != nil {
			return nil, &AuthError{Code: ErrCodeInvalidRequest, Reason: "bad_form", Description: "the form body is not URL-encoded or is too large"}
		}
		// Only the body: Entra sends every parameter there, and a query
		// string added to the URL must not override it.
		vals = r.PostForm
	default:
		return nil, &AuthError{Code: ErrCodeInvalidRequest, Reason: "bad_method", Description: "use GET or POST"}
	}
	return ParseAuthValues(vals, clients)
}

// ParseAuthValues is ParseAuthRequest on decoded parameters.
func ParseAuthValues(vals url.Values, clients Clients) (*AuthRequest, error) {
	single := func(name string) (string, bool) {
		v := vals[name]
		return strings.Join(v, ""), len(v) <= 1
	}
	// The client and its redirect URI first: until both are verified,
	// nothing may be sent to the redirect URI.
	clientID, ok := single("client_id")
	if !ok || clientID == "" {
		return nil, &AuthError{Code: ErrCodeUnknownClient, Reason: "missing_client", Description: "client_id is missing or repeated"}
	}
	c := clients[clientID]
	if c == nil {
		return nil, &AuthError{Code: ErrCodeUnknownClient, Reason: "unknown_client", Description: "client_id is not a configured client"}
	}
	redirect, ok := single("redirect_uri")
	if !ok || redirect == "" || !slices.Contains(c.RedirectURIs, redirect) {
		return nil, &AuthError{Code: ErrCodeBadRedirectURI, Reason: "bad_redirect_uri", ClientID: c.ID,
			Description: "redirect_uri is missing, repeated or not one registered for this client"}
	}
	state, stateOK := single("state")
	fail := func(code, reason, desc string) (*AuthRequest, error) {
		return nil, &AuthError{Code: code, Reason: reason, Description: desc, RedirectURI: redirect, State: state, ClientID: c.ID}
	}
	if !stateOK {
		state = ""
		return fail(ErrCodeInvalidRequest, "repeated_parameter", "state is repeated")
	}
	for _, name := range []string{"response_type", "response_mode", "scope", "nonce", "id_token_hint", "claims"} {
		if len(vals[name]) > 1 {
			return fail(ErrCodeInvalidRequest, "repeated_parameter", name+" is repeated")
		}
	}
	// The reference writes "Id_token" in its table; the value is
	// case-sensitive in OAuth, but that capital is Microsoft's own.
	if rt := vals.Get("response_type"); !strings.EqualFold(rt, "id_token") {
		return fail(ErrCodeUnsupportedResponse, "bad_response_type", "response_type must be id_token")
	}
	if rm := vals.Get("response_mode"); rm != "form_post" {
		// Other modes (fragment, query) would put the token in a URL.
		return fail(ErrCodeInvalidRequest, "bad_response_mode", "response_mode must be form_post")
	}
	if !slices.Contains(strings.Fields(vals.Get("scope")), "openid") {
		return fail(ErrCodeInvalidScope, "missing_openid_scope", "scope must contain openid")
	}
	nonce := vals.Get("nonce")
	switch {
	case nonce == "":
		// Optional in the reference's table, but an implicit-flow id_token
		// requires one (OpenID Connect Core §3.2.2.1) and Entra sends it.
		return fail(ErrCodeInvalidRequest, "missing_nonce", "nonce is required")
	case len(nonce) > 512 || strings.ContainsFunc(nonce, unicode.IsControl):
		return fail(ErrCodeInvalidRequest, "bad_nonce", "nonce is longer than 512 characters or has control characters")
	}
	hint := vals.Get("id_token_hint")
	if hint == "" {
		return fail(ErrCodeLoginRequired, "missing_hint", "id_token_hint is required: it names the user")
	}
	req := &AuthRequest{Client: c, RedirectURI: redirect, Nonce: nonce, State: state, IDTokenHint: hint, ACR: ACRPossessionOrInherence}
	if id := vals.Get("client-request-id"); len(id) <= 64 && !strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		req.ClientRequestID = id
	}
	if raw := vals.Get("claims"); raw != "" {
		acr, amr, reason, desc := parseClaims(raw)
		if reason != "" {
			code := ErrCodeInvalidRequest
			if reason == "unsupported_acr" {
				code = ErrCodeAccessDenied
			}
			return fail(code, reason, desc)
		}
		if acr != "" {
			req.ACR = acr
		}
		req.AMRValues = amr
	}
	return req, nil
}

// claimRequest is one member of the claims parameter (OpenID Connect Core
// §5.5.1): null, or an object with essential, value and values.
type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

func (c *claimRequest) all() []string {
	if c == nil {
		return nil
	}
	vs := slices.Clone(c.Values)
	if c.Value != nil {
		vs = append(vs, *c.Value)
	}
	return vs
}

// parseClaims reads the acr and amr members of claims.id_token. The acr is
// the first requested value a possession factor satisfies; if acr values
// are requested and none is satisfiable the request is refused: the
// reference says the answer's acr "should match one of the values from the
// request". Returns a reason and description on failure.
func parseClaims(raw string) (acr string, amr []string, reason, desc string) {
	var cl struct {
		IDToken map[string]*claimRequest `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(raw), &cl); err != nil {
		return "", nil, "bad_claims", "claims is not a JSON object of the OpenID Connect claims request form"
	}
	if vs := cl.IDToken["acr"].all(); len(vs) > 0 {
		for _, v := range vs {
			if slices.Contains(SupportedACRs(), v) {
				acr = v
				break
			}
		}
		if acr == "" {
			return "", nil, "unsupported_acr", "no requested acr value is satisfied by a possession factor; supported: " + strings.Join(SupportedACRs(), " ")
		}
	}
	amr = cl.IDToken["amr"].all()
	return acr, amr, "", ""
}

// HintRefused returns the answer to a request whose id_token_hint Verify
// refused: temporarily_unavailable when the hint issuer's keys could not be
// fetched (Entra may retry), access_denied when the user is not one
// mfagate serves, invalid_request otherwise. Reason is "hint_" and the
// HintReason.
func (r *AuthRequest) HintRefused(err error) *AuthError {
	ae := &AuthError{Code: ErrCodeInvalidRequest, Reason: "hint_invalid", Description: "id_token_hint was not accepted",
		RedirectURI: r.RedirectURI, State: r.State, ClientID: r.Client.ID}
	var he *HintError
	if errors.As(err, &he) {
		ae.Reason = "hint_" + string(he.Reason)
		switch he.Reason {
		case HintKeysUnavailable:
			ae.Code, ae.Description = ErrCodeTemporarilyUnavailable, "the hint issuer's keys cannot be fetched now"
		case HintUserClaimMismatch:
			ae.Code, ae.Description = ErrCodeAccessDenied, "the user is not one this provider verifies"
		default:
			ae.Description = "id_token_hint was not accepted: " + string(he.Reason)
		}
	}
	return ae
}
