package driver

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// makeRaw puts a tty in raw mode (no echo, no CR/LF translation).
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// pollable re-opens f as a non-blocking file so that Close interrupts a
// pending Read (a blocking pty master keeps its descriptor open until the
// read returns, and the slave would never see the hang-up).
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatalf("dup pty master: %v", err)
	}
	f.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatalf("non-blocking pty master: %v", err)
	}
	return os.NewFile(uintptr(fd), "ptmx")
}
