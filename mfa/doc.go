// Package mfa holds the gateway's domain rules: users and their verification
// methods, the MFA lifecycle of the setup guide (register, add alternatives,
// try signing in, apply), sign-in challenges and their state machine, one-time
// codes, TOTP, phone-number policy, rate limits and the audit trail.
//
// It knows nothing about HTTP, SQL dialects or AT commands. Persistence goes
// through the Store interface declared here; phone delivery goes through the
// outbox and the Sender interface, which the modem pool implements.
package mfa
