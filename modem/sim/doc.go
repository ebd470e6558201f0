// Package sim owns the GSM modem simulator: simulated Quectel, SIMCom, Huawei
// and generic modems that speak the AT protocol on real pseudo-terminals, and
// the virtual phone network behind them (phones that receive SMS, answer or
// refuse calls and press keypad digits, status reports, radio latency).
//
// A Modem is started with Start and reached at Path(), a stable symlink to
// its pty that survives Unplug/Replug like a udev name. Fault injection
// (CMS errors, hang, slow replies, no network, SIM failure, unplug, reboot,
// garbage) is available on *Modem while it runs.
//
// Only tests, the daemon's -demo mode and cmd/modemsim import this package.
package sim
