//go:build !linux

package main

import "os"

// isTTY reports whether f is a character device, which is as close to
// "a terminal" as the standard library can tell.
func isTTY(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ttyWidth returns 0: the width is unknown.
func ttyWidth(*os.File) int { return 0 }
