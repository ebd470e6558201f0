package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress shows a wait on stderr (a call, a key touch, an SMS in the
// outbox). On a terminal it is one line rewritten in place with a
// carriage return, counting the seconds; otherwise it is a plain line per
// change, which logs and pipes keep readable.
type progress struct {
	w     io.Writer
	tty   bool
	cols  int // the terminal's width; 0 when unknown
	start time.Time

	mu    sync.Mutex
	text  string
	width int // runes drawn on the terminal line
	over  bool

	stop chan struct{}
	done chan struct{}
}

// progressTick is how often the terminal line is redrawn.
const progressTick = time.Second

// newProgress starts a progress display on the env's stderr; end it with
// end.
func (e *env) newProgress() *progress {
	p := &progress{w: e.stderr, tty: e.errTTY, start: time.Now()}
	if p.tty {
		p.cols = terminalWidth(e.stderr)
	}
	if p.tty {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

func (p *progress) tick() {
	defer close(p.done)
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.text != "" {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

// set shows text, if it differs from what is shown.
func (p *progress) set(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.over || text == p.text {
		return
	}
	p.text = text
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintln(p.w, text)
}

// draw rewrites the terminal line; the caller holds mu.
func (p *progress) draw() {
	line := fmt.Sprintf("%s (%ds)", p.text, int(time.Since(p.start).Seconds()))
	if r := []rune(line); p.cols > 1 && len(r) >= p.cols {
		// A line that wraps could not be rewritten in place.
		line = string(r[:p.cols-2]) + "…"
	}
	n := len([]rune(line))
	pad := ""
	if n < p.width {
		// Blanks erase the rest of a longer previous line on terminals
		// without ANSI sequences too.
		pad = fmt.Sprintf("%*s", p.width-n, "")
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = n
}

// end finishes the display: on a terminal the line is kept and ended.
func (p *progress) end() {
	p.mu.Lock()
	if p.over {
		p.mu.Unlock()
		return
	}
	p.over = true
	p.mu.Unlock()
	if !p.tty {
		return
	}
	close(p.stop)
	<-p.done
	if p.width > 0 {
		fmt.Fprintln(p.w)
	}
}
