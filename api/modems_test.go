package api

import (
	"encoding/json"
	"strings"
	"testing"

	"mfagate/modem"
)

func TestModemViewShowsModel(t *testing.T) {
	b, err := json.Marshal(modemView(modem.Status{ID: "sim7600", Profile: "simcom", Model: "SIMCOM_SIM7600G-H"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"model":"SIMCOM_SIM7600G-H"`) {
		t.Fatalf("GET /v1/modems entry %s lacks the model", b)
	}
}
