package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxTries bounds how often the CLI asks again for a code when the
// gateway does not count attempts itself (a TOTP confirmation) or refuses
// the code's format without using up an attempt.
const maxTries = 5

// readCode prompts on stderr and reads one line from stdin. Spaces are
// dropped ("123 456" is how apps show codes); an empty line asks again.
func (e *env) readCode(prompt string) (string, error) {
	for {
		e.note("%s ", prompt)
		line, err := e.readLine()
		if errors.Is(err, errInterrupted) {
			e.note("\n")
			return "", err
		}
		code := strings.Join(strings.Fields(line), "")
		if code != "" {
			if err != nil || !e.tty {
				e.note("\n") // nothing echoed the input's line break
			}
			return code, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", errNoCode
			}
			return "", fmt.Errorf("read the code from standard input: %w", err)
		}
	}
}

// lineReader reads stdin in its own goroutine, one line per request, so
// that a prompt gives way to Ctrl-C.
type lineReader struct {
	req  chan struct{}
	res  chan lineResult
	done chan struct{}
}

type lineResult struct {
	line string
	err  error
}

// readLine reads one line from stdin, or returns errInterrupted when the
// command is interrupted first.
func (e *env) readLine() (string, error) {
	if e.lines == nil {
		lr := &lineReader{req: make(chan struct{}), res: make(chan lineResult), done: make(chan struct{})}
		go func() {
			for {
				select {
				case <-lr.req:
				case <-lr.done:
					return
				}
				line, err := e.in.ReadString('\n')
				select {
				case lr.res <- lineResult{line, err}:
				case <-lr.done:
					return
				}
			}
		}()
		e.lines = lr
	}
	select {
	case e.lines.req <- struct{}{}:
	case <-e.ctx.Done():
		return "", errInterrupted
	}
	select {
	case r := <-e.lines.res:
		return r.line, r.err
	case <-e.ctx.Done():
		return "", errInterrupted
	}
}

// stopReading ends the stdin goroutine, unless it is blocked in a read
// (after an interrupt), which the process's exit ends.
func (e *env) stopReading() {
	if e.lines != nil {
		close(e.lines.done)
	}
}

var (
	errNoCode      = errors.New("no code entered (standard input ended)")
	errInterrupted = errors.New("interrupted")
)

// submitCodes reads codes and passes each to submit until one is
// accepted, the gateway has no attempts left, or the input ends. It
// returns the accepted answer's body.
func (e *env) submitCodes(prompt string, submit func(code string) ([]byte, error)) ([]byte, error) {
	for try := 1; ; try++ {
		code, err := e.readCode(prompt)
		if err != nil {
			return nil, err
		}
		raw, err := submit(code)
		if err == nil {
			return raw, nil
		}
		var ae *apiError
		if !errors.As(err, &ae) || !retryable(ae, try) {
			return nil, err
		}
		e.note("%s; try again.\n", ae.Detail)
	}
}

// retryable reports whether another code may succeed after ae.
func retryable(ae *apiError, try int) bool {
	switch ae.Code {
	case "invalid_code":
		if ae.AttemptsLeft != nil {
			return *ae.AttemptsLeft > 0
		}
		return try < maxTries
	case "invalid_code_format", "replayed_code":
		return try < maxTries
	}
	return false
}

// awaitFinal long-polls a challenge until it is final (approved, denied,
// no answer, expired…), showing its progress on stderr. It is bounded by
// the challenge's expiry, which the gateway enforces.
func (e *env) awaitFinal(c challengeView) (challengeView, []byte, error) {
	wait := longPoll(e.g.timeout)
	p := e.newProgress()
	defer p.end()
	var raw []byte
	for {
		status := c.Status
		if c.Delivery != nil && c.Delivery.Status != "" && c.Delivery.Status != c.Status {
			status += " (delivery " + c.Delivery.Status + ")"
		}
		p.set("challenge %s: %s", c.ID, status)
		if c.final() {
			return c, raw, nil
		}
		var err error
		raw, err = e.call("GET", pathf("/v1/challenges/%s", c.ID), map[string]string{"wait": wait.String()}, nil)
		if err != nil {
			return c, nil, err
		}
		c = challengeView{}
		if err := decodeAnswer(raw, &c); err != nil {
			return c, nil, err
		}
	}
}

// maxWait is the longest long poll the gateway allows (GET
// /v1/challenges/{id}?wait=).
const maxWait = 25 * time.Second

// longPoll picks the wait of one long poll: the gateway's longest while it
// ends well before the request's own timeout.
func longPoll(timeout time.Duration) time.Duration {
	const margin = 5 * time.Second
	if timeout-margin >= time.Second {
		return min(maxWait, (timeout - margin).Truncate(time.Second))
	}
	return timeout / 2
}
