// Package vendor names the modem families mfagate supports: the one list
// that configuration validates against, the driver keeps an AT profile for
// and the simulator keeps a personality for. It imports nothing, so the
// driver and the simulator, which must not depend on each other, can both
// use it.
package vendor

// Modem families.
const (
	Quectel = "quectel" // EC25/EG25-G
	SIMCom  = "simcom"  // SIM7600
	Huawei  = "huawei"  // ME909-class
	Generic = "generic" // plain 3GPP TS 27.007
)

// Names lists the supported families in the order help texts show them.
var Names = []string{Quectel, SIMCom, Huawei, Generic}
