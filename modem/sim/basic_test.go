package sim

import (
	"slices"
	"testing"
)

func TestBasicExchange(t *testing.T) {
	m, _, c := startModem(t, "quectel", NetworkOptions{})
	_ = m
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"AT", []string{"OK"}},
		{"AT+CGMI", []string{"Quectel", "OK"}},
		{"AT+CGSN", []string{"867000000000042", "OK"}},
		{"AT+CSQ", []string{"+CSQ: 20,99", "OK"}},
		{"AT+CMEE=1;+CREG=2", []string{"OK"}},
		{"AT+CREG?", []string{`+CREG: 2,1,"1A2B","01C2D3E4",7`, "OK"}},
		{"AT+FOO", []string{"ERROR"}},
		{"AT+CLCC", []string{`+CLCC: 1,0,0,1,0,"",128`, "OK"}},
	} {
		if got := c.cmd(tc.cmd); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
