package softkey

import (
	"encoding/binary"
	"time"
)

// CTAPHID framing (CTAP 2.1 §11.2). A report is 64 bytes; the host writes a
// leading report ID byte that the pty reader strips.
const (
	reportSize   = 64
	initDataSize = reportSize - 7 // CID(4) CMD(1) BCNT(2)
	contDataSize = reportSize - 5 // CID(4) SEQ(1)
	maxSeq       = 0x7f
	// maxPayload is the largest message CTAPHID can carry: one init packet
	// and 128 continuation packets.
	maxPayload   = initDataSize + (maxSeq+1)*contDataSize
	broadcastCID = 0xffffffff
)

// CTAPHID commands, without the init-packet bit 0x80.
const (
	hidPing      = 0x01
	hidMsg       = 0x03
	hidLock      = 0x04
	hidInit      = 0x06
	hidWink      = 0x08
	hidCBOR      = 0x10
	hidCancel    = 0x11
	hidKeepalive = 0x3b
	hidError     = 0x3f
)

// CTAPHID_ERROR codes.
const (
	hidErrInvalidCmd     = 0x01
	hidErrInvalidPar     = 0x02
	hidErrInvalidLen     = 0x03
	hidErrInvalidSeq     = 0x04
	hidErrMsgTimeout     = 0x05
	hidErrChannelBusy    = 0x06
	hidErrLockRequired   = 0x0a
	hidErrInvalidChannel = 0x0b
	hidErrOther          = 0x7f
)

// Keepalive status bytes.
const (
	keepaliveProcessing = 1
	keepaliveUPNeeded   = 2
)

// INIT response fields.
const (
	hidProtocolVersion = 2
	capWink            = 0x01
	capCBOR            = 0x04
	capNMSG            = 0x08 // the key does not implement CTAPHID_MSG (U2F)
	maxLockSeconds     = 10
	maxChannels        = 256 // allocated channels remembered at once
)

// hidFrame is one reassembled CTAPHID message, in either direction.
type hidFrame struct {
	cid  uint32
	cmd  byte
	data []byte
}

// hidLayer is the pure CTAPHID state machine: it reassembles requests from
// reports, allocates channels, answers the transport-level commands itself
// and hands CBOR and CANCEL requests up. It does no I/O and reads no clock,
// which keeps it deterministic for tests and fuzzing. Owned by the key's
// goroutine.
type hidLayer struct {
	timeout time.Duration // continuation packets must arrive within this
	cbor    bool          // CTAPHID_CBOR served (CTAP2)
	msg     bool          // CTAPHID_MSG served (U2F)

	channels map[uint32]bool
	order    []uint32 // allocation order, for evicting the oldest channel
	nextCID  uint32

	// Reassembly of the message in progress, if active.
	active   bool
	cid      uint32
	cmd      byte
	need     int
	buf      []byte
	seq      byte
	deadline time.Time

	lockCID   uint32
	lockUntil time.Time

	winks int
}

func newHIDLayer(timeout time.Duration) *hidLayer {
	return &hidLayer{timeout: timeout, channels: map[uint32]bool{}, nextCID: 1, cbor: true}
}

// withU2F sets which of CTAPHID_CBOR and CTAPHID_MSG the key serves.
func (h *hidLayer) withU2F(u U2FSupport) *hidLayer {
	h.cbor = u != U2FOnly
	h.msg = u != U2FNone
	return h
}

// capabilities is the INIT response's capability byte.
func (h *hidLayer) capabilities() byte {
	c := byte(capWink)
	if h.cbor {
		c |= capCBOR
	}
	if !h.msg {
		c |= capNMSG
	}
	return c
}

// hidResult is what one report produced: frames to send back and, at most,
// one complete request for the layer above (CBOR or CANCEL).
type hidResult struct {
	replies []hidFrame
	request *hidFrame
}

func errFrame(cid uint32, code byte) hidFrame {
	return hidFrame{cid: cid, cmd: hidError, data: []byte{code}}
}

// expire aborts a reassembly whose continuation packets stopped coming and
// returns the ERR_MSG_TIMEOUT reply owed to its channel.
func (h *hidLayer) expire(now time.Time) []hidFrame {
	if h.active && !now.Before(h.deadline) {
		h.active = false
		h.buf = nil
		return []hidFrame{errFrame(h.cid, hidErrMsgTimeout)}
	}
	return nil
}

// nextDeadline reports when expire must next be called, if at all.
func (h *hidLayer) nextDeadline() (time.Time, bool) {
	return h.deadline, h.active
}

// feed processes one 64-byte report received at now.
func (h *hidLayer) feed(report []byte, now time.Time) hidResult {
	var res hidResult
	res.replies = h.expire(now)
	if len(report) != reportSize {
		return res
	}
	cid := binary.BigEndian.Uint32(report[0:4])
	b := report[4]
	if b&0x80 == 0 {
		// Continuation packet. Spurious ones (no transaction on that
		// channel) are ignored, as the spec asks.
		if !h.active || cid != h.cid {
			return res
		}
		if b != h.seq {
			h.active = false
			h.buf = nil
			res.replies = append(res.replies, errFrame(cid, hidErrInvalidSeq))
			return res
		}
		h.seq++
		h.buf = append(h.buf, report[5:5+min(contDataSize, h.need-len(h.buf))]...)
		h.deadline = now.Add(h.timeout)
		if len(h.buf) == h.need {
			h.active = false
			f := hidFrame{cid: h.cid, cmd: h.cmd, data: h.buf}
			h.buf = nil
			h.dispatch(&res, f, now)
		}
		return res
	}

	cmd := b & 0x7f
	n := int(binary.BigEndian.Uint16(report[5:7]))
	if h.active {
		if cid != h.cid {
			res.replies = append(res.replies, errFrame(cid, hidErrChannelBusy))
			return res
		}
		// A new init packet on the channel being reassembled: INIT
		// resynchronises, anything else is out of sequence.
		h.active = false
		h.buf = nil
		if cmd != hidInit {
			res.replies = append(res.replies, errFrame(cid, hidErrInvalidSeq))
			return res
		}
	}
	if code := h.checkChannel(cid, cmd); code != 0 {
		res.replies = append(res.replies, errFrame(cid, code))
		return res
	}
	if n > maxPayload {
		res.replies = append(res.replies, errFrame(cid, hidErrInvalidLen))
		return res
	}
	if n <= initDataSize {
		data := append([]byte(nil), report[7:7+n]...)
		h.dispatch(&res, hidFrame{cid: cid, cmd: cmd, data: data}, now)
		return res
	}
	h.active = true
	h.cid = cid
	h.cmd = cmd
	h.need = n
	h.seq = 0
	h.buf = append(make([]byte, 0, n), report[7:]...)
	h.deadline = now.Add(h.timeout)
	return res
}

// checkChannel returns the CTAPHID error for a request on cid, or 0.
func (h *hidLayer) checkChannel(cid uint32, cmd byte) byte {
	switch {
	case cid == 0:
		return hidErrInvalidChannel
	case cid == broadcastCID:
		if cmd != hidInit {
			return hidErrInvalidChannel
		}
	case !h.channels[cid]:
		return hidErrInvalidChannel
	}
	return 0
}

func (h *hidLayer) locked(cid uint32, now time.Time) bool {
	return h.lockCID != 0 && h.lockCID != cid && now.Before(h.lockUntil)
}

// dispatch answers a complete request or passes it up.
func (h *hidLayer) dispatch(res *hidResult, f hidFrame, now time.Time) {
	if f.cmd != hidInit && h.locked(f.cid, now) {
		res.replies = append(res.replies, errFrame(f.cid, hidErrChannelBusy))
		return
	}
	switch f.cmd {
	case hidInit:
		if len(f.data) != 8 {
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidLen))
			return
		}
		newCID := f.cid
		if f.cid == broadcastCID {
			newCID = h.allocate()
		}
		out := make([]byte, 17)
		copy(out, f.data)
		binary.BigEndian.PutUint32(out[8:12], newCID)
		out[12] = hidProtocolVersion
		out[13], out[14], out[15] = 1, 0, 0 // device version
		out[16] = h.capabilities()
		res.replies = append(res.replies, hidFrame{cid: f.cid, cmd: hidInit, data: out})
	case hidPing:
		res.replies = append(res.replies, hidFrame{cid: f.cid, cmd: hidPing, data: f.data})
	case hidWink:
		if len(f.data) != 0 {
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidLen))
			return
		}
		h.winks++
		res.replies = append(res.replies, hidFrame{cid: f.cid, cmd: hidWink})
	case hidLock:
		if len(f.data) != 1 {
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidLen))
			return
		}
		if f.data[0] > maxLockSeconds {
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidPar))
			return
		}
		if f.data[0] == 0 {
			h.lockCID = 0
		} else {
			h.lockCID = f.cid
			h.lockUntil = now.Add(time.Duration(f.data[0]) * time.Second)
		}
		res.replies = append(res.replies, hidFrame{cid: f.cid, cmd: hidLock})
	case hidCBOR, hidMsg:
		if (f.cmd == hidCBOR && !h.cbor) || (f.cmd == hidMsg && !h.msg) {
			// The INIT capabilities told the host not to send it.
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidCmd))
			return
		}
		if len(f.data) == 0 {
			res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidLen))
			return
		}
		res.request = &f
	case hidCancel:
		// Nothing to cancel when idle; the spec wants no reply.
		res.request = &f
	default:
		// KEEPALIVE and ERROR only travel from the key to the host.
		res.replies = append(res.replies, errFrame(f.cid, hidErrInvalidCmd))
	}
}

// allocate returns a fresh channel ID, never 0 or the broadcast ID.
func (h *hidLayer) allocate() uint32 {
	for h.nextCID == 0 || h.nextCID == broadcastCID || h.channels[h.nextCID] {
		h.nextCID++
	}
	cid := h.nextCID
	h.nextCID++
	// Keep the table bounded: a long-running key sees one INIT per
	// libfido2 open. The oldest channel is the one least likely in use.
	if len(h.order) >= maxChannels {
		delete(h.channels, h.order[0])
		h.order = h.order[1:]
	}
	h.channels[cid] = true
	h.order = append(h.order, cid)
	return cid
}

// fragment splits a message into 64-byte reports.
func fragment(f hidFrame) [][]byte {
	data := f.data
	if len(data) > maxPayload {
		data = data[:maxPayload]
	}
	var out [][]byte
	p := make([]byte, reportSize)
	binary.BigEndian.PutUint32(p[0:4], f.cid)
	p[4] = 0x80 | f.cmd
	binary.BigEndian.PutUint16(p[5:7], uint16(len(data)))
	n := copy(p[7:], data)
	data = data[n:]
	out = append(out, p)
	for seq := byte(0); len(data) > 0; seq++ {
		p := make([]byte, reportSize)
		binary.BigEndian.PutUint32(p[0:4], f.cid)
		p[4] = seq
		n := copy(p[5:], data)
		data = data[n:]
		out = append(out, p)
	}
	return out
}
