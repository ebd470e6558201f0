package sim

import (
	"fmt"

	"mfagate/modem/vendor"
)

// profile holds what differs between the simulated vendors: identity strings,
// boot URCs, the ICCID command, how call progress and DTMF are reported, and
// which prompt-playback commands exist. Facts follow the modem reference
// (Quectel EC25, SIMCom SIM7600, Huawei ME909-class, plain 27.007 modem).
type profile struct {
	name         string
	manufacturer string
	model        string
	revision     string
	gcap         string
	ati          func(o *Options) []string
	boot         []string // boot URCs after power-on and AT+CFUN=1,1
	iccidCmd     string   // vendor ICCID command name ("+QCCID", "+CICCID", "^ICCID")
	iccidReply   func(iccid string) string
	urcCRCRLF    map[string]bool // URC prefixes framed \r\r\n (SIMCom quirk)
	psBearer     bool            // lists an LTE data bearer in +CLCC (Quectel EC2x on LTE)
	act          int             // access technology reported in +COPS/+CxREG
	dtmfDefault  bool            // DTMF detection active without an enable command
	prompts      bool            // can play a prompt into a call
}

// Profiles lists the supported profile names.
var Profiles = vendor.Names

var profiles = map[string]*profile{
	vendor.Quectel: {
		name:         vendor.Quectel,
		manufacturer: "Quectel",
		model:        "EC25",
		revision:     "EC25ECGAR06A04M1G",
		gcap:         "+GCAP: +CGSM",
		ati: func(o *Options) []string {
			return []string{"Quectel", "EC25", "Revision: EC25ECGAR06A04M1G"}
		},
		boot:       []string{"RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"},
		iccidCmd:   "+QCCID",
		iccidReply: func(iccid string) string { return "+QCCID: " + iccid },
		psBearer:   true,
		act:        7,
		prompts:    true,
	},
	vendor.SIMCom: {
		name:         vendor.SIMCom,
		manufacturer: "SIMCOM INCORPORATED",
		model:        "SIMCOM_SIM7600G-H",
		revision:     "LE20B04SIM7600G22",
		gcap:         "+GCAP: +CGSM,+FCLASS,+DS",
		ati: func(o *Options) []string {
			return []string{"Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600G-H",
				"Revision: LE20B04SIM7600G22", "IMEI: " + o.IMEI, "+GCAP: +CGSM,+FCLASS,+DS"}
		},
		boot:        []string{"RDY", "+CPIN: READY", "SMS DONE", "PB DONE"},
		iccidCmd:    "+CICCID",
		iccidReply:  func(iccid string) string { return "ICCID: " + iccid },
		urcCRCRLF:   map[string]bool{"+RXDTMF:": true, "MISSED_CALL:": true, "+CRING:": true},
		act:         7,
		dtmfDefault: true,
		prompts:     true,
	},
	vendor.Huawei: {
		name:         vendor.Huawei,
		manufacturer: "huawei",
		model:        "ME909s-120",
		revision:     "11.617.01.00.00",
		gcap:         "+GCAP: +CGSM,+DS,+ES",
		ati: func(o *Options) []string {
			return []string{"Manufacturer: huawei", "Model: ME909s-120", "Revision: 11.617.01.00.00",
				"IMEI: " + o.IMEI, "+GCAP: +CGSM,+DS,+ES"}
		},
		boot:       []string{"^SYSSTART"},
		iccidCmd:   "^ICCID",
		iccidReply: func(iccid string) string { return "^ICCID: " + iccid },
		act:        7,
	},
	vendor.Generic: {
		name:         vendor.Generic,
		manufacturer: "Generic",
		model:        "GSM MODEM",
		revision:     "1.0",
		gcap:         "+GCAP: +CGSM",
		ati: func(o *Options) []string {
			return []string{"Generic GSM MODEM", "Revision: 1.0"}
		},
		boot: []string{"RDY", "+CPIN: READY"},
		act:  0,
	},
}

func lookupProfile(name string) (*profile, error) {
	if name == "" {
		name = vendor.Generic
	}
	p, ok := profiles[name]
	if !ok {
		return nil, fmt.Errorf("unknown modem profile %q (want one of %v)", name, Profiles)
	}
	return p, nil
}
