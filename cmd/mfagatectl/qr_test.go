package main

import (
	"bytes"
	"image/color"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// TestQRDrawing reads the half-block drawing back into modules and
// compares them with the QR code of the same text: every module must be
// in its place, inside a light border.
func TestQRDrawing(t *testing.T) {
	const uri = "otpauth://totp/mfagate:0123456789?algorithm=SHA1&digits=6&issuer=mfagate&period=30&secret=6NWV2LIO2KHWSCCSYY5A3QCCLEFQH55P"
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	for _, invert := range []bool{false, true} {
		var buf bytes.Buffer
		if err := writeQR(&buf, uri, invert); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		size := n + 2*qrQuiet
		if len(lines) != (size+1)/2 {
			t.Fatalf("invert=%v: %d lines for %d module rows", invert, len(lines), size)
		}
		// ink[y][x]: whether the drawing fills module (x, y).
		ink := make([][]bool, len(lines)*2)
		for i, line := range lines {
			runes := []rune(line)
			if len(runes) != size {
				t.Fatalf("invert=%v: line %d is %d wide, want %d", invert, i, len(runes), size)
			}
			top, bottom := make([]bool, size), make([]bool, size)
			for x, r := range runes {
				switch r {
				case '█':
					top[x], bottom[x] = true, true
				case '▀':
					top[x] = true
				case '▄':
					bottom[x] = true
				case ' ':
				default:
					t.Fatalf("invert=%v: unexpected %q", invert, r)
				}
			}
			ink[2*i], ink[2*i+1] = top, bottom
		}
		for y := range size {
			for x := range size {
				mx, my := x-qrQuiet, y-qrQuiet
				dark := mx >= 0 && my >= 0 && mx < n && my < n &&
					color.GrayModel.Convert(code.At(mx, my)).(color.Gray).Y < 128
				if want := dark == invert; ink[y][x] != want {
					t.Fatalf("invert=%v: module (%d,%d) drawn=%v, want %v", invert, mx, my, ink[y][x], want)
				}
			}
		}
		// Past the square (the odd last half row) nothing is drawn.
		if size%2 == 1 {
			for x, on := range ink[size] {
				if on {
					t.Fatalf("invert=%v: drawing below the code at column %d", invert, x)
				}
			}
		}
	}
}
