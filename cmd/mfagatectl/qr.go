package main

import (
	"bufio"
	"fmt"
	"image/color"
	"io"

	"github.com/boombuler/barcode/qr"
)

// qrQuiet is the blank border around the code, in modules. The standard
// asks for four; two keep the code on one screen and phone cameras read
// it.
const qrQuiet = 2

// writeQR draws content as a QR code with Unicode half blocks, two module
// rows per line. By default the light modules (and the border) are drawn,
// which shows the right way round in terminals with light text on a dark
// background; invert draws the dark modules instead, for dark text on a
// light background.
func writeQR(w io.Writer, content string, invert bool) error {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return fmt.Errorf("encode QR code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	size := n + 2*qrQuiet
	// ink reports whether the module at (x, y) of the bordered square is
	// drawn; positions past the square are never drawn.
	ink := func(x, y int) bool {
		if y >= size {
			return false
		}
		x, y = x-qrQuiet, y-qrQuiet
		dark := x >= 0 && y >= 0 && x < n && y < n &&
			color.GrayModel.Convert(code.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y < 128
		return dark == invert
	}
	bw := bufio.NewWriter(w)
	for y := 0; y < size; y += 2 {
		for x := 0; x < size; x++ {
			top, bottom := ink(x, y), ink(x, y+1)
			switch {
			case top && bottom:
				bw.WriteRune('█')
			case top:
				bw.WriteRune('▀')
			case bottom:
				bw.WriteRune('▄')
			default:
				bw.WriteByte(' ')
			}
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
