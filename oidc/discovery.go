package oidc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// Paths of the provider's routes, below the issuer.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	AuthorizePath = "/oidc/authorize"
	JWKSPath      = "/oidc/jwks"
)

// Discovery is the provider metadata document (OpenID Connect Discovery
// 1.0 §3), with the values the reference's "Discovery of provider
// metadata" table requires.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ResponseModesSupported           []string `json:"response_modes_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	ClaimTypesSupported              []string `json:"claim_types_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	ACRValuesSupported               []string `json:"acr_values_supported"`
	ClaimsParameterSupported         bool     `json:"claims_parameter_supported"`
	RequestParameterSupported        bool     `json:"request_parameter_supported"`
}

// NewDiscovery returns the metadata of the provider at issuer (config
// oidc.issuer, already validated: no trailing slash).
func NewDiscovery(issuer string) Discovery {
	return Discovery{
		Issuer:                           issuer,
		AuthorizationEndpoint:            issuer + AuthorizePath,
		JWKSURI:                          issuer + JWKSPath,
		ResponseTypesSupported:           []string{"id_token"},
		ResponseModesSupported:           []string{"form_post"},
		ScopesSupported:                  []string{"openid"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ClaimsSupported:                  []string{"iss", "aud", "sub", "oid", "tid", "nonce", "iat", "exp", "acr", "amr"},
		ClaimTypesSupported:              []string{"normal"},
		GrantTypesSupported:              []string{"implicit"},
		ACRValuesSupported:               SupportedACRs(),
		ClaimsParameterSupported:         true,
	}
}

// DiscoveryHandler serves the metadata document. The reference requires a
// valid Content-Length ("Discovery of provider metadata"), so the body is
// encoded once and its length set explicitly rather than left to chunking.
func DiscoveryHandler(issuer string) http.Handler {
	body, err := jsonMarshal(NewDiscovery(issuer))
	if err != nil {
		panic("oidc: encode discovery document: " + err.Error())
	}
	return staticJSON(body, "public, max-age=3600")
}

// JWKSHandler serves the JSON Web Key Set: the next key, the current key
// and previous keys whose tokens may still be presented, each with kid,
// use, alg, n, e, x5c and x5t.
func (m *KeyManager) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := m.publishedJWKS(r.Context())
		if err != nil {
			m.opt.Log.Error("JWKS unavailable", "err", err)
			http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, r, body, "public, max-age=3600")
	})
}

func staticJSON(body []byte, cache string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, r, body, cache) })
}

func writeJSON(w http.ResponseWriter, r *http.Request, body []byte, cache string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
