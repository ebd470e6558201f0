package api

import (
	"net/http"
	"time"

	"mfagate/mfa"
)

// tapBody asks for a Temporary Access Pass.
type tapBody struct {
	Lifetime *string `json:"lifetime"` // a Go duration, "1h" when absent
	OneTime  *bool   `json:"one_time"` // true when absent
}

// tapRole is the role by which c may issue and revoke passes under
// [policy] tap_allowed_for ("" when none): admin first, as on every route
// admin may do what the listed roles may.
func (s *Server) tapRole(c *Client) Role {
	allowed := s.svc.TAPPolicy().AllowedFor
	if len(allowed) > 0 && hasExact(c.Roles, RoleAdmin) {
		return RoleAdmin
	}
	for _, r := range allowed {
		if hasExact(c.Roles, Role(r)) {
			return Role(r)
		}
	}
	return ""
}

func (s *Server) tapAllowed(c *Client) (Role, error) {
	role := s.tapRole(c)
	if role == "" {
		allowed := s.svc.TAPPolicy().AllowedFor
		if len(allowed) == 0 {
			return "", newProblem(http.StatusForbidden, codeForbidden, "no client may issue or revoke Temporary Access Passes here ([policy] tap_allowed_for = [])")
		}
		return "", newProblem(http.StatusForbidden, codeForbidden, "client %q may not issue or revoke Temporary Access Passes: [policy] tap_allowed_for lets %q", c.Name, allowed)
	}
	return role, nil
}

// issueTAP answers 201 with the new pass. The pass is in this answer only:
// never in a log, the audit log, a metric or another answer.
func (s *Server) issueTAP(w http.ResponseWriter, r *http.Request, c *Client) error {
	role, err := s.tapAllowed(c)
	if err != nil {
		return err
	}
	var b tapBody
	if err := decode(w, r, &b, true); err != nil {
		return err
	}
	req := mfa.TAPRequest{OneTime: b.OneTime == nil || *b.OneTime}
	if b.Lifetime != nil {
		d, err := time.ParseDuration(*b.Lifetime)
		if err != nil || d <= 0 {
			return newProblem(http.StatusBadRequest, string(mfa.CodeInvalidRequest), "lifetime %q is not a duration: write a number with a unit, like \"1h\" or \"90m\" (days are hours: \"720h\")", truncate(*b.Lifetime, 32))
		}
		req.Lifetime = d
	}
	res, err := s.svc.IssueTAP(r.Context(), actor(c), r.PathValue("user"), req)
	if err != nil {
		return err
	}
	s.metrics.TAPIssued(string(role))
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, map[string]any{"method": s.methodView(res.Method), "pass": res.Pass})
}

func (s *Server) revokeTAP(w http.ResponseWriter, r *http.Request, c *Client) error {
	if _, err := s.tapAllowed(c); err != nil {
		return err
	}
	if err := s.svc.RevokeTAP(r.Context(), actor(c), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
