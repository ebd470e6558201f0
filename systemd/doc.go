// Package systemd holds the files that install mfagated on a host — the
// systemd unit, sysusers.d and tmpfiles.d entries, udev rules and the
// example configuration — and tests that check them as `make install`
// stages them, with systemd's own tools where they exist.
package systemd
