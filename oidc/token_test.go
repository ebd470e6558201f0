package oidc_test

import (
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/oidc"
	"mfagate/oidc/oidctest"
)

// The id_token has what the reference's "Microsoft Entra ID processing of
// the provider response" table lists, checked by golang-jwt against the
// published key set: iss, aud, sub, oid, tid, nonce, iat, exp ≤ 10 min,
// one acr string and a one-element amr array.
func TestMintIDToken(t *testing.T) {
	clk := oidctest.NewClock(t0)
	m := oidc.NewKeyManager(&oidctest.KeyStore{}, oidctest.Sealer(), keyOptions(clk))
	mt := &oidc.Minter{Issuer: testIssuer, Keys: m, TokenTTL: 5 * time.Minute}
	tok, err := mt.Mint(ctx, oidc.Grant{ClientID: "600b719b", Subject: "mBfcvuhSHkDW", OID: "951ddb04", TID: "14c2f153",
		Nonce: "nonce-1", AMR: oidc.AMRSMS})
	if err != nil {
		t.Fatal(err)
	}
	claims, tk, err := verifyToken(t, tok, fetchJWKS(t, m), clk.Now())
	if err != nil {
		t.Fatalf("golang-jwt does not verify the id_token: %v", err)
	}
	if tk.Header["alg"] != "RS256" || tk.Header["typ"] != "JWT" {
		t.Errorf("header %v", tk.Header)
	}
	for k, want := range map[string]string{"iss": testIssuer, "aud": "600b719b", "sub": "mBfcvuhSHkDW", "oid": "951ddb04",
		"tid": "14c2f153", "nonce": "nonce-1", "acr": "possessionorinherence"} {
		if claims[k] != want {
			t.Errorf("%s = %#v, want %q", k, claims[k], want)
		}
	}
	amr, ok := claims["amr"].([]any)
	if !ok || len(amr) != 1 || amr[0] != "sms" {
		t.Errorf("amr = %#v, want [\"sms\"]", claims["amr"])
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if int64(iat) != t0.Unix() || exp-iat != 300 {
		t.Errorf("iat %v exp %v, want now and now+5m", iat, exp)
	}
	// Expired for Entra after its lifetime.
	if _, _, err := verifyToken(t, tok, fetchJWKS(t, m), clk.Now().Add(5*time.Minute+time.Second)); err == nil {
		t.Error("the token still verifies after exp")
	}
}

func TestMintRefuses(t *testing.T) {
	clk := oidctest.NewClock(t0)
	m := oidc.NewKeyManager(&oidctest.KeyStore{}, oidctest.Sealer(), keyOptions(clk))
	ok := oidc.Grant{ClientID: "a", Subject: "s", Nonce: "n", AMR: oidc.AMROTP}
	for name, tc := range map[string]struct {
		g   oidc.Grant
		ttl time.Duration
	}{
		"no nonce":      {oidc.Grant{ClientID: "a", Subject: "s", AMR: "otp"}, time.Minute},
		"no subject":    {oidc.Grant{ClientID: "a", Nonce: "n", AMR: "otp"}, time.Minute},
		"amr pwd":       {oidc.Grant{ClientID: "a", Subject: "s", Nonce: "n", AMR: "pwd"}, time.Minute},
		"acr knowledge": {oidc.Grant{ClientID: "a", Subject: "s", Nonce: "n", AMR: "otp", ACR: "knowledge"}, time.Minute},
		"ttl 11m":       {ok, 11 * time.Minute},
	} {
		if _, err := (&oidc.Minter{Issuer: testIssuer, Keys: m, TokenTTL: tc.ttl}).Mint(ctx, tc.g); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
}

func TestAMR(t *testing.T) {
	for _, tc := range []struct {
		kind mfa.Kind
		ch   mfa.Channel
		want string
	}{
		{mfa.KindTOTP, "", "otp"},
		{mfa.KindPhone, mfa.ChannelSMS, "sms"},
		{mfa.KindPhone, mfa.ChannelVoice, "tel"},
		{mfa.KindFIDO, "", "fido"},
		{mfa.KindPhone, "", ""},
		{mfa.KindAppPassword, "", ""},
	} {
		got, err := oidc.AMR(tc.kind, tc.ch)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("AMR(%s, %s) = %q, %v; want %q", tc.kind, tc.ch, got, err, tc.want)
		}
	}
}
