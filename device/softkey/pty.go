package softkey

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// hostReportSize is what libfido2 writes per report: a report ID byte (0)
// followed by the 64-byte report.
const hostReportSize = reportSize + 1

// writeTimeout bounds a write to the pty: a host that stopped reading (it
// closed the device mid-request) must not stall the key.
const writeTimeout = 250 * time.Millisecond

var errPTYBroken = errors.New("pty broken")

// ptyDevice is the pty pair the key serves libfido2 on. libfido2's Linux
// HID backend opens the slave like a hidraw node: it needs a character
// device, reads exactly 64 bytes per report and writes 65. The slave is put
// in raw mode with VMIN=64, VTIME=0 so a read returns one whole report, and
// the key keeps its own slave descriptor open so the master never sees a
// hang-up between libfido2's open/close cycles.
type ptyDevice struct {
	path    string
	linkAt  string   // symlink to path, removed on close
	master  *os.File // pollable: Close unblocks a pending Read
	slave   *os.File
	slaveFD int
}

func openPTY() (*ptyDevice, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	d := &ptyDevice{path: s.Name(), slave: s, slaveFD: int(s.Fd())}
	if err := makeRaw(d.slaveFD); err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("configure %s: %w", d.path, err)
	}
	// pty.Open leaves the master in blocking mode, where Close cannot
	// interrupt a Read. A non-blocking duplicate goes through the runtime
	// poller instead.
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	d.master = os.NewFile(uintptr(fd), "/dev/ptmx")
	return d, nil
}

// makeRaw sets the line discipline to pass bytes through untouched in both
// directions (cfmakeraw) and to complete reads at 64 bytes.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR |
		unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY | unix.IMAXBEL | unix.IUTF8
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD
	t.Cc[unix.VMIN] = reportSize
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set termios: %w", err)
	}
	return nil
}

// readReports reads the host's 65-byte writes from the master, strips the
// report ID and sends 64-byte reports to out until the master is closed or
// stop is closed. It closes out when it returns.
func (d *ptyDevice) readReports(out chan<- []byte, stop <-chan struct{}) {
	defer close(out)
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, err := d.master.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		for len(pending) >= hostReportSize {
			rep := make([]byte, reportSize)
			copy(rep, pending[1:hostReportSize])
			pending = pending[hostReportSize:]
			select {
			case out <- rep:
			case <-stop:
				return
			}
		}
		if len(pending) == 0 {
			pending = nil
		}
	}
}

// write sends one 64-byte report to the host.
func (d *ptyDevice) write(rep []byte) error {
	if err := d.master.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("%w: %v", errPTYBroken, err)
	}
	_, err := d.master.Write(rep)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("host is not reading: %w", err)
	default:
		return fmt.Errorf("%w: %v", errPTYBroken, err)
	}
}

// flushToHost discards reports written to the host but not read by it.
func (d *ptyDevice) flushToHost() {
	_ = unix.IoctlSetInt(d.slaveFD, unix.TCFLSH, unix.TCIFLUSH)
}

func (d *ptyDevice) close() {
	if d.linkAt != "" {
		// Only remove the link if it still points at this key.
		if target, err := os.Readlink(d.linkAt); err == nil && target == d.path {
			os.Remove(d.linkAt)
		}
	}
	d.master.Close()
	d.slave.Close()
}

// link makes at a symlink to the pty, replacing a symlink already there
// (a previous run's) but never a regular file or directory.
func (d *ptyDevice) link(at string) error {
	if fi, err := os.Lstat(at); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("link %s: exists and is not a symlink", at)
		}
		if err := os.Remove(at); err != nil {
			return fmt.Errorf("link %s: %w", at, err)
		}
	}
	if err := os.Symlink(d.path, at); err != nil {
		return fmt.Errorf("link %s: %w", at, err)
	}
	d.linkAt = at
	return nil
}
