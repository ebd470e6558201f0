package selfservice

import (
	"regexp"
	"testing"
)

// The derived secrets: a CSRF token per session and a PKCE code_verifier
// per sign-in, each of the form its protocol needs.
func TestDerivedSecrets(t *testing.T) {
	a, b := token(), token()
	if !wellFormed(a) || len(a) != 43 || a == b {
		t.Fatalf("tokens %q %q: want distinct 43-character base64url", a, b)
	}
	if CSRF(a) == CSRF(b) || !CheckCSRF(a, CSRF(a)) || CheckCSRF(a, CSRF(b)) || CheckCSRF(a, "") || CheckCSRF("", CSRF("")[:10]) {
		t.Fatal("CSRF tokens are not bound to their session's secret")
	}
	if CSRF(a) == a || verifier(a) == a || verifier(a) == CSRF(a) {
		t.Fatal("a derived secret repeats another")
	}
	// RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
	if v := verifier(a); !regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`).MatchString(v) || verifier(a) != v || verifier(b) == v {
		t.Fatalf("code_verifier %q", v)
	}
	for _, bad := range []string{"", "short", a + "A", a[:42] + "*", a[:42] + "="} {
		if wellFormed(bad) {
			t.Errorf("%q passes as a token", bad)
		}
	}
}
