package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"mfagate/mfa"
	"mfagate/pi"
	"mfagate/selfservice"
)

type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
	Comp    struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type openAPIOperation struct {
	Roles    []string        `json:"x-roles"`
	Security []any           `json:"security"`
	Resp     map[string]any  `json:"responses"`
	Params   []any           `json:"parameters"`
	Body     json.RawMessage `json:"requestBody"`
}

// The served document describes exactly the routes that exist, with the
// roles they enforce.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var mounts []Mount
	for _, p := range pi.Patterns() {
		mounts = append(mounts, Mount{Pattern: p, Handler: http.NotFoundHandler()})
	}
	s := New(Options{Demo: noDemo{}, Kiosk: noKiosk{}, OIDC: &OIDC{}, Mounts: mounts,
		SelfService: &SelfService{Links: true, Login: &selfservice.RP{}}, Console: &Console{}})
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			var roles []Role
			found := false
			for _, r := range s.routes {
				if strings.TrimSuffix(r.pattern, "{$}") == pattern {
					found, roles = true, r.roles
				}
			}
			if !found {
				t.Errorf("documented %s is not served", pattern)
				continue
			}
			var names []string
			for _, r := range roles {
				if r != RoleAdmin || len(roles) == 1 {
					names = append(names, string(r))
				}
			}
			want := op.Roles
			sort.Strings(names)
			sort.Strings(want)
			if roles == nil && op.Security == nil {
				t.Errorf("%s needs no token but the document does not say so (security: [])", pattern)
			}
			if roles != nil && !slices.Equal(names, want) {
				t.Errorf("%s: document says roles %v, route enforces %v", pattern, want, names)
			}
			if len(op.Resp) == 0 {
				t.Errorf("%s documents no responses", pattern)
			}
		}
	}
	for _, r := range s.routes {
		if !documented[strings.TrimSuffix(r.pattern, "{$}")] {
			t.Errorf("served %s is not in openapi.json", r.pattern)
		}
	}

	// Every refusal code the domain can return is mapped to a status and
	// listed in the document.
	enum := doc.Comp.Schemas["Problem"].Properties["code"].Enum
	for code := range domainStatus {
		if !slices.Contains(enum, string(code)) {
			t.Errorf("problem code %s is not in the document", code)
		}
	}
	for _, c := range []mfa.Code{mfa.CodeInvalidCode, mfa.CodeProofRequired, mfa.CodeMethodNotAllowed, mfa.CodeRateLimited} {
		if _, ok := domainStatus[c]; !ok {
			t.Errorf("code %s has no HTTP status", c)
		}
	}

	// And it is what GET /v1/openapi.json serves.
	srv := New(Options{Clients: []Client{{Name: "x", TokenHash: sha("t"), Roles: []Role{RoleIDP}}}})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer t")
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != string(openAPI) {
		t.Fatalf("GET /v1/openapi.json = %d", rec.Code)
	}
}

func sha(s string) [32]byte { return sha256.Sum256([]byte(s)) }

type noDemo struct{}

func (noDemo) Messages(string) ([]DemoSMS, error)              { return nil, nil }
func (noDemo) PressKeys(context.Context, string, string) error { return nil }

type noKiosk struct{ Kiosk }
