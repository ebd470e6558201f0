package main

import (
	"flag"
	"fmt"
	"time"
)

// keyView is a signing key of the External MFA provider as
// GET /v1/oidc/keys shows it.
type keyView struct {
	KID         string     `json:"kid"`
	State       string     `json:"state"`
	Created     time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	Until       *time.Time `json:"until"`
	RetiresAt   *time.Time `json:"retires_at"`
}

func setupOIDCKeys(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("GET", "/v1/oidc/keys", nil, nil)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		var keys []keyView
		if err := decodeAnswer(raw, &keys); err != nil {
			return err
		}
		tw := e.table()
		fmt.Fprintln(tw, "KID\tSTATE\tCREATED\tSIGNS FROM\tSIGNS UNTIL\tLEAVES THE JWKS")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.State, stamp(k.Created), stamp(k.ActivatesAt), stampPtr(k.Until), stampPtr(k.RetiresAt))
		}
		return tw.Flush()
	}
}

func setupOIDCRotate(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("POST", "/v1/oidc/keys", nil, nil)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		var k keyView
		if err := decodeAnswer(raw, &k); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new signing key %s: published now, signs from %s (Entra caches the key set for 24 hours)\n", k.KID, stamp(k.ActivatesAt))
		return nil
	}
}
