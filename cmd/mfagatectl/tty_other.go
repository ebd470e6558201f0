//go:build !linux

package main

import "os"

// isTTY reports whether fd is a character device, which is as close to
// "a terminal" as the standard library can tell.
func isTTY(fd uintptr) bool {
	fi, err := os.NewFile(fd, "").Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && fi.Name() != "null"
}
