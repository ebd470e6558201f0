package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTTY reports whether f is a terminal: it answers the terminal
// attributes request, which files, pipes and /dev/null do not.
func isTTY(f *os.File) bool {
	tty := false
	control(f, func(fd int) {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		tty = err == nil
	})
	return tty
}

// ttyWidth returns the terminal's width in columns, 0 when unknown.
func ttyWidth(f *os.File) int {
	width := 0
	control(f, func(fd int) {
		if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil {
			width = int(ws.Col)
		}
	})
	return width
}

// control runs fn with f's descriptor, leaving the file's mode alone (Fd
// would make it blocking).
func control(f *os.File, fn func(fd int)) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { fn(int(fd)) })
}
