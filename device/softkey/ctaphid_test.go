package softkey

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func initReport(cid uint32, cmd byte, n int, data []byte) []byte {
	p := make([]byte, reportSize)
	binary.BigEndian.PutUint32(p, cid)
	p[4] = 0x80 | cmd
	binary.BigEndian.PutUint16(p[5:7], uint16(n))
	copy(p[7:], data)
	return p
}

func contReport(cid uint32, seq byte, data []byte) []byte {
	p := make([]byte, reportSize)
	binary.BigEndian.PutUint32(p, cid)
	p[4] = seq
	copy(p[5:], data)
	return p
}

// allocate runs INIT on the broadcast channel and returns the new channel.
func allocate(t *testing.T, h *hidLayer) uint32 {
	t.Helper()
	res := h.feed(initReport(broadcastCID, hidInit, 8, []byte("nonce123")), t0)
	if len(res.replies) != 1 || res.replies[0].cmd != hidInit {
		t.Fatalf("INIT replies %+v", res.replies)
	}
	return binary.BigEndian.Uint32(res.replies[0].data[8:12])
}

func wantError(t *testing.T, res hidResult, cid uint32, code byte) {
	t.Helper()
	for _, r := range res.replies {
		if r.cid == cid && r.cmd == hidError && len(r.data) == 1 && r.data[0] == code {
			return
		}
	}
	t.Fatalf("want CTAPHID_ERROR %#x on %#x, got %+v", code, cid, res.replies)
}

func TestHIDInitAllocatesDistinctChannels(t *testing.T) {
	h := newHIDLayer(time.Second)
	a, b := allocate(t, h), allocate(t, h)
	if a == b || a == 0 || a == broadcastCID || b == 0 || b == broadcastCID {
		t.Fatalf("channels %#x %#x", a, b)
	}
	res := h.feed(initReport(broadcastCID, hidInit, 8, []byte("abcdefgh")), t0)
	d := res.replies[0].data
	if !bytes.Equal(d[:8], []byte("abcdefgh")) || d[12] != hidProtocolVersion || d[16] != capWink|capCBOR|capNMSG {
		t.Fatalf("INIT payload %x", d)
	}
	// INIT on an allocated channel resynchronises it and keeps the CID.
	res = h.feed(initReport(a, hidInit, 8, []byte("resync!!")), t0)
	if got := binary.BigEndian.Uint32(res.replies[0].data[8:12]); got != a {
		t.Fatalf("resync gave channel %#x, want %#x", got, a)
	}
}

func TestHIDErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *hidLayer, cid uint32) hidResult
		to   func(cid uint32) uint32
		code byte
	}{
		{"ping on broadcast", func(t *testing.T, h *hidLayer, _ uint32) hidResult {
			return h.feed(initReport(broadcastCID, hidPing, 1, []byte{1}), t0)
		}, func(uint32) uint32 { return broadcastCID }, hidErrInvalidChannel},
		{"channel zero", func(t *testing.T, h *hidLayer, _ uint32) hidResult {
			return h.feed(initReport(0, hidPing, 1, []byte{1}), t0)
		}, func(uint32) uint32 { return 0 }, hidErrInvalidChannel},
		{"unallocated channel", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid+100, hidCBOR, 1, []byte{4}), t0)
		}, func(c uint32) uint32 { return c + 100 }, hidErrInvalidChannel},
		{"init wrong nonce length", func(t *testing.T, h *hidLayer, _ uint32) hidResult {
			return h.feed(initReport(broadcastCID, hidInit, 4, []byte{1, 2, 3, 4}), t0)
		}, func(uint32) uint32 { return broadcastCID }, hidErrInvalidLen},
		{"length over maximum", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, hidCBOR, maxPayload+1, nil), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidLen},
		{"empty cbor", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, hidCBOR, 0, nil), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidLen},
		{"msg is not implemented", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, hidMsg, 7, make([]byte, 7)), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidCmd},
		{"host sends error", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, hidError, 1, []byte{1}), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidCmd},
		{"unknown command", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, 0x55, 0, nil), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidCmd},
		{"lock too long", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			return h.feed(initReport(cid, hidLock, 1, []byte{11}), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidPar},
		{"wrong sequence", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			h.feed(initReport(cid, hidPing, 100, nil), t0)
			return h.feed(contReport(cid, 1, nil), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidSeq},
		{"new request mid-message", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			h.feed(initReport(cid, hidPing, 100, nil), t0)
			return h.feed(initReport(cid, hidPing, 1, nil), t0)
		}, func(c uint32) uint32 { return c }, hidErrInvalidSeq},
		{"other channel while busy", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			other := allocate(t, h)
			h.feed(initReport(cid, hidPing, 100, nil), t0)
			return h.feed(initReport(other, hidPing, 1, nil), t0)
		}, func(c uint32) uint32 { return c + 1 }, hidErrChannelBusy},
		{"continuation timeout", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			h.feed(initReport(cid, hidPing, 100, nil), t0)
			return h.feed(contReport(cid, 0, nil), t0.Add(2*time.Second))
		}, func(c uint32) uint32 { return c }, hidErrMsgTimeout},
		{"locked by another channel", func(t *testing.T, h *hidLayer, cid uint32) hidResult {
			other := allocate(t, h)
			h.feed(initReport(other, hidLock, 1, []byte{5}), t0)
			return h.feed(initReport(cid, hidPing, 1, nil), t0.Add(time.Second))
		}, func(c uint32) uint32 { return c }, hidErrChannelBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHIDLayer(time.Second)
			cid := allocate(t, h)
			wantError(t, tt.run(t, h, cid), tt.to(cid), tt.code)
		})
	}
}

func TestHIDLockExpires(t *testing.T) {
	h := newHIDLayer(time.Second)
	a, b := allocate(t, h), allocate(t, h)
	h.feed(initReport(a, hidLock, 1, []byte{2}), t0)
	res := h.feed(initReport(b, hidPing, 1, []byte{9}), t0.Add(3*time.Second))
	if len(res.replies) != 1 || res.replies[0].cmd != hidPing {
		t.Fatalf("after lock expiry: %+v", res.replies)
	}
}

func TestHIDReassemblyRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, initDataSize, initDataSize + 1, 1000, maxPayload} {
		h := newHIDLayer(time.Second)
		cid := allocate(t, h)
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		var got []hidFrame
		for _, rep := range fragment(hidFrame{cid: cid, cmd: hidPing, data: payload}) {
			got = append(got, h.feed(rep, t0).replies...)
		}
		if len(got) != 1 || got[0].cmd != hidPing || !bytes.Equal(got[0].data, payload) {
			t.Fatalf("n=%d: replies %d", n, len(got))
		}
	}
}

// FuzzHIDFeed feeds arbitrary reports: the layer must never panic, every
// reply must be a well-formed frame, and a request it hands up must be CBOR
// or CANCEL on an allocated channel.
func FuzzHIDFeed(f *testing.F) {
	f.Add(initReport(broadcastCID, hidInit, 8, []byte("12345678")))
	f.Add(append(initReport(broadcastCID, hidInit, 8, []byte("12345678")), initReport(1, hidCBOR, 1, []byte{4})...))
	f.Add(append(initReport(broadcastCID, hidInit, 8, []byte("12345678")), initReport(1, hidPing, 70, nil)...))
	f.Add(append(append(initReport(broadcastCID, hidInit, 8, []byte("12345678")), initReport(1, hidCBOR, 100, []byte{1})...), contReport(1, 0, nil)...))
	f.Add(contReport(1, 5, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHIDLayer(time.Second)
		now := t0
		for len(data) >= reportSize {
			rep := data[:reportSize]
			data = data[reportSize:]
			now = now.Add(100 * time.Millisecond)
			res := h.feed(rep, now)
			for _, r := range res.replies {
				if r.cmd == hidError && len(r.data) != 1 {
					t.Fatalf("malformed error frame %+v", r)
				}
				if len(fragment(r)) == 0 {
					t.Fatal("reply fragments to nothing")
				}
			}
			if req := res.request; req != nil {
				if req.cmd != hidCBOR && req.cmd != hidCancel {
					t.Fatalf("handed up command %#x", req.cmd)
				}
				if !h.channels[req.cid] {
					t.Fatalf("request on unallocated channel %#x", req.cid)
				}
				if req.cmd == hidCBOR && len(req.data) == 0 {
					t.Fatal("empty CBOR request handed up")
				}
			}
		}
	})
}

func TestHIDChannelTableIsBounded(t *testing.T) {
	h := newHIDLayer(time.Second)
	first := allocate(t, h)
	var last uint32
	for range maxChannels {
		last = allocate(t, h)
	}
	if len(h.channels) != maxChannels {
		t.Fatalf("%d channels remembered", len(h.channels))
	}
	wantError(t, h.feed(initReport(first, hidPing, 0, nil), t0), first, hidErrInvalidChannel)
	if res := h.feed(initReport(last, hidPing, 0, nil), t0); len(res.replies) != 1 || res.replies[0].cmd != hidPing {
		t.Fatalf("newest channel: %+v", res.replies)
	}
}
