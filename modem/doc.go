// Package modem runs the gateway's modem pool: one worker goroutine per
// configured modem owns its driver (package modem/driver), claims jobs from
// the durable outbox when it is idle and healthy, sends SMS and places
// calls, reports outcomes back, and recovers the modem when it stops
// answering or its port vanishes. It knows nothing about users.
package modem
