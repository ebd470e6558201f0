// Package driver owns the AT conversation with one GSM/LTE modem: it opens the
// serial port, initialises the modem for its vendor profile, reports identity
// and health, submits SMS in PDU mode, delivers SMS status reports, and places
// voice calls that play a prompt and collect the callee's DTMF digits.
//
// One goroutine owns the port (see Modem); every public method sends it a
// request and waits for the answer or the caller's context. The package knows
// nothing about users or challenges; the modem pool builds on it.
//
// The line protocol is github.com/warthog618/modem v0.4.0 (package at/gsm).
// Its quirks are handled here: unsolicited result codes (URCs) are taken from
// a tap on the byte stream, in wire order, instead of from at's indication
// handlers (which run on separate goroutines and so lose ordering); URC lines
// that leak into command replies are filtered out by prefix; and every
// command gets an explicit timeout because at's default is one second.
package driver
