package mfa_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"mfagate/mfa"
	"mfagate/mfa/mfatest"
	"mfagate/store/sqlite"
)

type texts struct{}

func (texts) SMS(lang string, v map[string]string) string { return "code " + v["code"] }
func (texts) Voice(lang string, nm bool, v map[string]string) string {
	return "press # " + v["number"]
}
func (texts) DefaultLanguage() string { return "en" }

// cluster is two services, nodes "a" and "b", sharing one store and one
// clock, each with a stand-in modem that claims jobs as a modem would.
type cluster struct {
	clock  *mfatest.Clock
	a, b   *mfa.Service
	ma, mb *mfatest.Sender
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := mfa.NewKeys(bytes.Repeat([]byte{5}, 32))
	c := &cluster{clock: mfatest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))}
	svc := func(node string) (*mfa.Service, *mfatest.Sender) {
		s, err := mfa.New(mfa.Options{Store: db, Keys: keys, Node: node, Now: c.clock.Now, Policy: mfa.Policy{
			CodeLength: 6, CodeTTL: 5 * time.Minute, MaxAttempts: 5, MaxConsecutiveFailures: 100,
			PhoneChallengesPerUser: 50, PhoneChallengeWindow: 15 * time.Minute, ProofMaxAge: 10 * time.Minute,
			UserID: regexp.MustCompile(`^[0-9]{10}$`), DefaultRegion: "JP", AllowedRegions: []string{"JP"},
			TOTP: mfa.TOTPParams{Issuer: "gw", Digits: 6, Period: 30 * time.Second, Skew: 1}, Messages: texts{},
		}})
		if err != nil {
			t.Fatal(err)
		}
		snd := mfatest.NewSender("modem-" + node)
		snd.Service = s
		s.SetSender(snd)
		snd.Woken()
		return s, snd
	}
	c.a, c.ma = svc("a")
	c.b, c.mb = svc("b")
	return c
}

// queueSMS registers a mobile phone for a new user, which queues one SMS.
func (c *cluster) queueSMS(t *testing.T, user string) {
	t.Helper()
	_, err := c.a.AddMethod(t.Context(), mfa.Actor{Name: "idp"}, user,
		mfa.AddMethodRequest{Kind: mfa.KindPhone, Slot: mfa.SlotMobile, Phone: "090-1234-5678", Channel: mfa.ChannelSMS})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) job(t *testing.T, id string) mfa.Job {
	t.Helper()
	j, err := c.a.Job(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// A node that stops renewing loses its claims after the lease; another
// node takes the job over, and the first node's late failure does not undo
// the new attempt, while its late success is recorded.
func TestLeaseTakeover(t *testing.T) {
	c := newCluster(t)
	ctx := t.Context()
	c.queueSMS(t, "1000000001")
	out, ok, err := c.ma.Take(ctx)
	if err != nil || !ok {
		t.Fatalf("node a claims: %v %v", ok, err)
	}
	j := c.job(t, out.Job)
	if j.State != mfa.JobSending || j.Node != "a" || j.Modem != "modem-a" || !j.LeaseUntil.Equal(c.clock.Now().Add(mfa.DefaultLease)) {
		t.Fatalf("claimed job: state %s node %q modem %q lease %v", j.State, j.Node, j.Modem, j.LeaseUntil)
	}

	// a renews: b's heartbeat a lease later takes nothing.
	c.clock.Advance(20 * time.Second)
	if _, err := c.a.Heartbeat(ctx, mfa.Node{}, []string{out.Job}); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(20 * time.Second)
	if n, err := c.b.Heartbeat(ctx, mfa.Node{}, nil); err != nil || n != 0 {
		t.Fatalf("b took over %d jobs of a node that renews (%v)", n, err)
	}
	if _, ok, _ := c.mb.Take(ctx); ok {
		t.Fatal("b claimed a job a holds")
	}

	// a goes silent: one lease after its last renewal, b takes over and is woken.
	c.clock.Advance(mfa.DefaultLease)
	if n, err := c.b.Heartbeat(ctx, mfa.Node{}, nil); err != nil || n != 1 {
		t.Fatalf("b's heartbeat after a's lease ran out took over %d jobs (%v), want 1", n, err)
	}
	if !c.mb.Woken() {
		t.Error("taking a job over did not wake the sender")
	}
	again, ok, err := c.mb.Take(ctx)
	if err != nil || !ok || again.Job != out.Job {
		t.Fatalf("b claims the job taken over: %v %v %+v", ok, err, again.Job)
	}
	if again.Text != out.Text {
		t.Error("the job taken over carries another text: the user would get a second, different code")
	}
	if j := c.job(t, out.Job); j.Node != "b" || j.Attempts != 2 {
		t.Fatalf("job after takeover: node %q attempts %d", j.Node, j.Attempts)
	}

	// a comes back and reports its stale attempt failed: ignored.
	if err := c.a.Report(ctx, out.Job, mfa.Outcome{Kind: mfa.OutcomeRetry, Reason: "modem-a: timeout"}); err != nil {
		t.Fatal(err)
	}
	if j := c.job(t, out.Job); j.State != mfa.JobSending || j.Node != "b" {
		t.Fatalf("a's stale retry changed b's attempt: state %s node %q", j.State, j.Node)
	}
	// a's message did go out after all: that is a fact, recorded.
	if err := c.a.Report(ctx, out.Job, mfa.Outcome{Kind: mfa.OutcomeSent, MR: []int{7}}); err != nil {
		t.Fatal(err)
	}
	if j := c.job(t, out.Job); j.State != mfa.JobSent {
		t.Fatalf("a's late success not recorded: state %s", j.State)
	}
	// b's attempt then fails: the job stays sent, not requeued.
	if err := c.b.Report(ctx, out.Job, mfa.Outcome{Kind: mfa.OutcomeRetry, Reason: "modem-b: timeout"}); err != nil {
		t.Fatal(err)
	}
	if j := c.job(t, out.Job); j.State != mfa.JobSent {
		t.Fatalf("a retry after the message was sent requeued it: state %s", j.State)
	}
}

// A restarting node requeues at once what it held, without waiting for the
// lease; the other node's claims stay.
func TestRecoverOwnJobsOnly(t *testing.T) {
	c := newCluster(t)
	ctx := t.Context()
	c.queueSMS(t, "1000000001")
	c.queueSMS(t, "1000000002")
	oa, _, _ := c.ma.Take(ctx)
	ob, _, _ := c.mb.Take(ctx)
	if oa.Job == "" || ob.Job == "" {
		t.Fatal("both nodes should hold a job")
	}
	if n, err := c.a.Recover(ctx); err != nil || n != 1 {
		t.Fatalf("a restarting requeued %d jobs (%v), want its own 1", n, err)
	}
	if j := c.job(t, oa.Job); j.State != mfa.JobQueued || j.Node != "" {
		t.Errorf("a's job after restart: %s on %q", j.State, j.Node)
	}
	if j := c.job(t, ob.Job); j.State != mfa.JobSending || j.Node != "b" {
		t.Errorf("b's job after a restarted: %s on %q", j.State, j.Node)
	}
}

// Heartbeats make the nodes visible to each other with their modems and
// the jobs they hold.
func TestNodesSeeEachOther(t *testing.T) {
	c := newCluster(t)
	ctx := t.Context()
	c.queueSMS(t, "1000000001")
	o, _, _ := c.mb.Take(ctx)
	started := c.clock.Now()
	if _, err := c.a.Heartbeat(ctx, mfa.Node{Version: "v1", StartedAt: started}, nil); err != nil {
		t.Fatal(err)
	}
	modems := []mfa.NodeModem{{Name: "modem-b", State: "busy", Channels: []mfa.Channel{mfa.ChannelSMS}}}
	if _, err := c.b.Heartbeat(ctx, mfa.Node{Version: "v1", StartedAt: started, Modems: modems}, []string{o.Job}); err != nil {
		t.Fatal(err)
	}
	c.clock.Advance(mfa.DefaultLease)
	if _, err := c.b.Heartbeat(ctx, mfa.Node{Version: "v1", StartedAt: started, Modems: modems}, []string{o.Job}); err != nil {
		t.Fatal(err)
	}
	nodes, err := c.a.Nodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	na, nb := nodes[0], nodes[1]
	if na.ID != "a" || nb.ID != "b" || nb.Sending != 1 || na.Sending != 0 || len(nb.Modems) != 1 || nb.Modems[0].Name != "modem-b" {
		t.Fatalf("nodes: %+v", nodes)
	}
	if !c.a.Alive(nb) || c.a.Alive(na) {
		t.Errorf("alive: a %v (silent for a lease), b %v (just seen)", c.a.Alive(na), c.a.Alive(nb))
	}
}

// A test SMS is accepted only for a modem that some live node drives.
func TestTestSMSNeedsAReachableModem(t *testing.T) {
	c := newCluster(t)
	ops := mfa.Actor{Name: "ops", Admin: true}
	local := []mfa.NodeModem{{Name: "modem-a", State: "up"}}
	if _, err := c.b.Heartbeat(t.Context(), mfa.Node{Modems: []mfa.NodeModem{{Name: "modem-b", State: "up"}}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"modem-a", "modem-b"} {
		if _, err := c.a.TestSMS(t.Context(), ops, local, id, "090-1234-5678", ""); err != nil {
			t.Errorf("test SMS via %s: %v", id, err)
		}
	}
	if _, err := c.a.TestSMS(t.Context(), ops, local, "modem-z", "090-1234-5678", ""); mfa.CodeOf(err) != mfa.CodeUnknownModem {
		t.Errorf("unknown modem: %v, want %s", err, mfa.CodeUnknownModem)
	}
	c.clock.Advance(mfa.DefaultLease + time.Second)
	if _, err := c.a.TestSMS(t.Context(), ops, local, "modem-b", "090-1234-5678", ""); mfa.CodeOf(err) != mfa.CodeUnknownModem {
		t.Errorf("modem of a node silent for a lease: %v, want %s", err, mfa.CodeUnknownModem)
	}
}
