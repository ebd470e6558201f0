// Command mfagatectl is the operator's command line for an mfagate gateway:
// it registers and confirms methods, starts and verifies challenges,
// applies and terminates MFA, and reads the audit log and the outbox. For
// running the service it shows the gateway's status and modems, sends test
// SMS, opens kiosk sessions for security keys, clears fraud blocks, and
// prints a bash completion script. It speaks only the daemon's HTTP API
// (design/API.md), over TCP or a unix socket.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
