// Command mfagated is the mfagate daemon: it serves the HTTP API to the
// identity provider and the kiosks, and drives the modems and security keys.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
