package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
	"mfagate/radius"
)

// radiusDoor binds [radius] listen and builds the RADIUS server; nil when
// [radius] is not configured. The demo takes a free port when its usual
// one is taken, and its banner says which.
func radiusDoor(cfg *config.Config, demo bool, svc *mfa.Service, m *metrics.Metrics, log *slog.Logger) (*radius.Server, *net.UDPConn, error) {
	c := cfg.Radius
	if c == nil {
		return nil, nil, nil
	}
	srv, err := radius.New(radius.Options{Service: svc, Config: *c, Metrics: m, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	conn, err := radius.Listen(c.Listen)
	if err != nil && demo && errors.Is(err, syscall.EADDRINUSE) {
		conn, err = radius.Listen("127.0.0.1:0")
	}
	if err != nil {
		return nil, nil, err
	}
	c.Listen = conn.LocalAddr().String()
	names := make([]string, len(c.Clients))
	for i, cl := range c.Clients {
		names[i] = cl.Name
		if !cl.RequireMessageAuthenticator {
			log.Warn("RADIUS client does not have to send Message-Authenticator: its requests can be forged by a man in the middle (Blast-RADIUS)", "client", cl.Name)
		}
	}
	log.Info("RADIUS server listening", "listen", c.Listen, "clients", names, "mfa_off", c.MFAOff)
	return srv, conn, nil
}

// demoRadiusClient names the demo's RADIUS client; its secret is
// radius-demo-vpn.secret in the state directory.
const demoRadiusClient = "demo-vpn"

// demoSSHClient is the demo's client for pam_radius_auth, which sends no
// Message-Authenticator before its release 3.0: it comes from 127.0.0.2
// and its secret is radius-demo-ssh.secret.
const demoSSHClient = "demo-ssh"

func (d *demoState) radiusLine() string {
	r := d.cfg.Radius
	if r == nil || len(r.Clients) == 0 {
		return ""
	}
	c := r.Clients[0]
	line := fmt.Sprintf(`RADIUS (VPN, Citrix, SSH): udp %s, client %s from %s, secret in %s
  (Debian: apt install freeradius-utils; a user needs MFA applied; "push" asks for a challenge)
  echo 'User-Name = "0123456789", User-Password = "push", Message-Authenticator = 0x00' | radclient -x %s auth "$(cat %s)"
`, r.Listen, c.Name, c.Address, c.SecretFile, r.Listen, c.SecretFile)
	if len(r.Clients) > 1 {
		s := r.Clients[1]
		line += fmt.Sprintf(`  pam_radius_auth (SSH): client %s from %s, secret in %s; in its configuration:
    %s <secret> 10 127.0.0.2
`, s.Name, s.Address, s.SecretFile, r.Listen)
	}
	return line + "\n"
}
