package api_test

import (
	"strings"
	"testing"
)

// A store the gateway does not copy (PostgreSQL) is refused with what to
// use instead; the route is for admins only, like the re-seal's progress.
func TestBackupAndSecretsRoutes(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/backup", tokAdmin, "")
	h.want(r, 409, "backup_unsupported")
	if d := r.str("detail"); !strings.Contains(d, "pg_dump") || !strings.Contains(d, "key file separately") {
		t.Errorf("detail %q does not point at pg_dump and the key", d)
	}
	h.want(h.do("GET", "/v1/backup", tokIDP, ""), 403, "forbidden")
	h.want(h.do("GET", "/v1/backup", tokEnroll, ""), 403, "forbidden")
	h.want(h.do("GET", "/v1/backup", "", ""), 401, "unauthorized")

	r = h.do("GET", "/v1/secrets", tokAdmin, "")
	h.want(r, 200, "")
	if r.body["done"] != true || r.body["previous_keys"] != float64(0) || r.body["sealed_with_previous"] != float64(0) {
		t.Errorf("secrets without a rotation: %s", r.raw)
	}
	h.want(h.do("GET", "/v1/secrets", tokIDP, ""), 403, "forbidden")
}
