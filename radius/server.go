// Package radius is mfagate's RADIUS front door (RFC 2865): VPN
// concentrators, Citrix/NetScaler gateways and SSH through pam_radius_auth
// ask it for the second factor with Access-Request and get Access-Accept,
// Access-Reject or Access-Challenge. It owns the wire (the packet codec is
// layeh.com/radius; Message-Authenticator is checked and written here), the
// per-client checks (source network, shared secret, Message-Authenticator,
// in-flight bound) and duplicate detection. Every rule about users, codes,
// attempts, locks, rate limits and fraud is package mfa's: this package is
// one of its clients, like the privacyIDEA-compatible door.
package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"mfagate/config"
	"mfagate/metrics"
	"mfagate/mfa"
)

// Options configure the server.
type Options struct {
	Service *mfa.Service
	Config  config.Radius    // as config.Validate left it: networks and secrets filled in
	Metrics *metrics.Metrics // nil: a private registry
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	// PerClient bounds the requests of one client being answered at once
	// (default DefaultPerClient); more are dropped as a flood.
	PerClient int
}

// DefaultPerClient is how many requests of one client are answered at
// once. A request holds its slot while it waits for a voice call (at most
// the client's timeout); a gateway sends one request per user signing in.
const DefaultPerClient = 64

// dupWindow is how long an answer is kept for retransmissions of its
// request. RFC 2865 §2 leaves it to the server to detect a duplicate "within
// a short span of time"; RFC 5080 §2.2.2 asks for a cache of the answers
// keyed by client address and port, Identifier and Request Authenticator.
// Gateways retransmit a few times at 3 to 10 s intervals.
const dupWindow = 30 * time.Second

// Server answers RADIUS Access-Requests.
type Server struct {
	svc       *mfa.Service
	cfg       config.Radius
	metrics   *metrics.Metrics
	log       *slog.Logger
	now       func() time.Time
	clients   []*client
	perClient int32
	dups      *dupCache
}

// client is one [[radius.client]]. inFlight is touched by the read loop
// and the workers, atomically.
type client struct {
	name      string
	network   netip.Prefix
	secret    []byte
	requireMA bool
	mode      string
	timeout   time.Duration
	accept    radius.Attributes // sent in every Access-Accept
	inFlight  atomic.Int32
	// Proxy mode: the server that checks the first factor, and its secret.
	upstream       *net.UDPAddr
	upstreamSecret []byte
}

// New builds the server. The configuration must have passed config.Validate.
func New(o Options) (*Server, error) {
	if o.Service == nil {
		return nil, errors.New("radius: Service is required")
	}
	if len(o.Config.Clients) == 0 {
		return nil, errors.New("radius: the configuration names no clients; run it through config.Validate")
	}
	s := &Server{svc: o.Service, cfg: o.Config, metrics: o.Metrics, log: o.Logger, now: o.Now,
		perClient: int32(o.PerClient), dups: newDupCache()}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.perClient <= 0 {
		s.perClient = DefaultPerClient
	}
	for _, c := range o.Config.Clients {
		if !c.Network.IsValid() || len(c.Secret) == 0 {
			return nil, fmt.Errorf("radius: client %q has no network or secret; run the configuration through config.Validate", c.Name)
		}
		cl := &client{name: c.Name, network: c.Network, secret: c.Secret, requireMA: c.RequireMessageAuthenticator,
			mode: c.Mode, timeout: c.Timeout.Duration}
		if c.Mode == config.RadiusProxy {
			ua, err := net.ResolveUDPAddr("udp", c.Upstream)
			if err != nil || len(c.UpstreamSecret) == 0 {
				return nil, fmt.Errorf("radius: client %q is in proxy mode without a usable upstream or upstream secret; run the configuration through config.Validate", c.Name)
			}
			cl.upstream, cl.upstreamSecret = ua, c.UpstreamSecret
		}
		if c.FilterID != "" {
			cl.accept.Add(rfc2865.FilterID_Type, radius.Attribute(c.FilterID))
		}
		if c.Class != "" {
			cl.accept.Add(rfc2865.Class_Type, radius.Attribute(c.Class))
		}
		s.clients = append(s.clients, cl)
	}
	return s, nil
}

// Listen binds the UDP address of [radius] listen.
func Listen(addr string) (*net.UDPConn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("radius: listen on %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("radius: listen on %s: %w", addr, err)
	}
	return conn, nil
}

// clientFor returns the client whose network holds a, or nil.
func (s *Server) clientFor(a netip.Addr) *client {
	a = a.Unmap()
	for _, c := range s.clients {
		if c.network.Contains(a) {
			return c
		}
	}
	return nil
}

// unknownClient is the client label of packets from no configured client.
const unknownClient = "unknown"

// Run answers requests arriving on conn until ctx ends, then waits for the
// requests being answered (they see ctx end too) and returns. It does not
// close conn. Each request is answered on a goroutine of its own, at most
// PerClient of them per client.
func (s *Server) Run(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, radius.MaxPacketLength)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("radius: %w", err)
			}
			s.log.Warn("RADIUS read failed", "err", err)
			continue
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		from := ua.AddrPort()
		req, key, ok := s.admit(buf[:n], from, func(b []byte) { conn.WriteTo(b, addr) })
		if !ok {
			continue
		}
		wg.Go(func() {
			b, reason := s.answer(ctx, req)
			// Free the slot before the reply can be seen, so that a
			// gateway that sends one request at a time is never counted
			// as a flood.
			req.client.inFlight.Add(-1)
			if b == nil {
				s.dups.forget(key)
				s.metrics.RadiusDropped(req.client.name, reason)
				return
			}
			s.dups.done(key, b, s.now())
			conn.WriteTo(b, addr)
		})
	}
}

// admit runs the checks of one datagram that need no store: it returns the
// request to answer, or false when the packet was dropped or answered from
// the duplicate cache (resend writes that answer). An admitted request
// holds one of its client's in-flight slots.
func (s *Server) admit(b []byte, from netip.AddrPort, resend func([]byte)) (*request, dupKey, bool) {
	c := s.clientFor(from.Addr())
	if c == nil {
		s.metrics.RadiusDropped(unknownClient, dropUnknownClient)
		s.log.Debug("RADIUS packet from an unknown client dropped", "from", from.Addr())
		return nil, dupKey{}, false
	}
	req, reason := parse(c, b)
	if reason != "" {
		s.drop(c, from, reason)
		return nil, dupKey{}, false
	}
	if req.status {
		s.status(req, resend)
		return nil, dupKey{}, false
	}
	key := dupKey{from: from, id: req.id, auth: req.auth}
	switch cached, state := s.dups.begin(key, s.now()); state {
	case dupAnswered:
		// The same request again: the same answer, and nothing else
		// happens (no second SMS).
		resend(cached)
		return nil, key, false
	case dupInProgress:
		s.drop(c, from, dropInProgress)
		return nil, key, false
	}
	if c.inFlight.Add(1) > s.perClient {
		c.inFlight.Add(-1)
		s.dups.forget(key)
		s.drop(c, from, dropFlood)
		return nil, key, false
	}
	return req, key, true
}

// status answers a Status-Server (RFC 5997 §3) of a known client with an
// authentic Message-Authenticator: Access-Accept, signed like every reply,
// so that the gateway knows this server is up. It touches no store and no
// upstream (§3: a Status-Server is never forwarded), takes no in-flight
// slot and is not kept for duplicates: the answer is the same every time.
func (s *Server) status(r *request, send func([]byte)) {
	b, err := encodeReply(r, radius.CodeAccessAccept, nil)
	if err != nil {
		s.log.Error("RADIUS reply not encoded", "client", r.client.name, "err", err)
		return
	}
	s.metrics.RadiusRequest(r.client.name, r.client.mode, "status")
	send(b)
}

func (s *Server) drop(c *client, from netip.AddrPort, reason string) {
	s.metrics.RadiusDropped(c.name, reason)
	s.log.Debug("RADIUS packet dropped", "client", c.name, "from", from.Addr(), "reason", reason)
}

// handle answers one datagram synchronously, as Run does but without the
// in-flight bound: the reply, or nil when the packet is dropped. It is the
// entry point of the fuzz tests.
func (s *Server) handle(ctx context.Context, b []byte, from netip.AddrPort) []byte {
	var out []byte
	req, key, ok := s.admit(b, from, func(r []byte) { out = r })
	if !ok {
		return out
	}
	defer req.client.inFlight.Add(-1)
	r, _ := s.answer(ctx, req)
	if r == nil {
		s.dups.forget(key)
		return nil
	}
	s.dups.done(key, r, s.now())
	return r
}

// dupKey names one request as RFC 5080 §2.2.2 has it.
type dupKey struct {
	from netip.AddrPort
	id   byte
	auth [16]byte
}

type dupEntry struct {
	reply   []byte    // nil while the request is being answered
	expires time.Time // set once answered
}

// dupCache holds the answers of the last dupWindow, and the requests being
// answered. Its size is bounded by the clients' request rates over the
// window; maxDups caps it against a client gone wild.
type dupCache struct {
	mu      sync.Mutex
	entries map[dupKey]*dupEntry
	order   []dupKey // answered entries, oldest first
}

const maxDups = 1 << 16

const (
	dupNew = iota
	dupInProgress
	dupAnswered
)

func newDupCache() *dupCache { return &dupCache{entries: map[dupKey]*dupEntry{}} }

// begin looks the request up and, when it is new, records it as being
// answered.
func (d *dupCache) begin(k dupKey, now time.Time) ([]byte, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if e, ok := d.entries[k]; ok {
		if e.reply == nil {
			return nil, dupInProgress
		}
		return e.reply, dupAnswered
	}
	d.entries[k] = &dupEntry{}
	return nil, dupNew
}

func (d *dupCache) done(k dupKey, reply []byte, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok {
		e.reply, e.expires = reply, now.Add(dupWindow)
		d.order = append(d.order, k)
	}
}

func (d *dupCache) forget(k dupKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok && e.reply == nil {
		delete(d.entries, k)
	}
}

func (d *dupCache) expire(now time.Time) {
	n := 0
	for _, k := range d.order {
		e := d.entries[k]
		if e != nil && now.Before(e.expires) && len(d.order)-n <= maxDups {
			break
		}
		delete(d.entries, k)
		n++
	}
	d.order = d.order[n:]
}
