package main

import (
	"errors"
	"flag"
	"fmt"
)

func setupChallenge(fs *flag.FlagSet) action {
	method := fs.String("method", "", "the method `METHOD_ID` to use (default: the user's default method)")
	channel := fs.String("channel", "", "deliver by `CHANNEL` (sms or voice) instead of the phone method's own")
	purpose := fs.String("purpose", "", "`PURPOSE` of the challenge: signin, test (the user's trial sign-in before applying for MFA) or proof (default signin)")
	verify := fs.Bool("verify", false, "then read the code from standard input and verify it, or wait for the call's result")
	return func(e *env, args []string) error {
		if *channel != "" {
			if err := oneOf("channel", *channel, "sms", "voice"); err != nil {
				return err
			}
		}
		if *purpose != "" {
			if err := oneOf("purpose", *purpose, "signin", "test", "proof"); err != nil {
				return err
			}
		}
		body := map[string]string{}
		for k, v := range map[string]string{"method": *method, "channel": *channel, "purpose": *purpose} {
			if v != "" {
				body[k] = v
			}
		}
		raw, err := e.call("POST", pathf("/v1/users/%s/challenges", args[0]), nil, body)
		if err != nil {
			return err
		}
		c, err := e.showChallenge(raw)
		if err != nil || !*verify {
			return err
		}
		return e.complete(c)
	}
}

// complete finishes a challenge interactively: a code for TOTP and SMS, the
// call's result for voice.
func (e *env) complete(c challengeView) error {
	switch {
	case c.Kind == "phone" && c.Channel == "voice":
		if c.NumberMatch != "" {
			e.note("Answer the call and key in %s when asked.\n", c.NumberMatch)
		}
		c, raw, err := e.awaitFinal(c)
		if err != nil {
			return err
		}
		return e.finalResult(c, raw)
	case c.Kind == "totp" || c.Kind == "phone":
		prompt := "Enter the code shown in the authenticator app:"
		if c.Kind == "phone" {
			prompt = "Enter the code sent by SMS:"
		}
		raw, err := e.submitCodes(prompt, func(code string) ([]byte, error) {
			return e.call("POST", pathf("/v1/challenges/%s/verify", c.ID), nil, map[string]string{"code": code})
		})
		if errors.Is(err, errNoCode) || errors.Is(err, errInterrupted) {
			return fmt.Errorf("%w; verify later with \"mfagatectl verify %s CODE\"", err, c.ID)
		}
		if err != nil {
			return err
		}
		var done challengeView
		if err := decodeAnswer(raw, &done); err != nil {
			return err
		}
		return e.finalResult(done, raw)
	}
	return fmt.Errorf("a %s challenge is answered by the security key in the browser, not by mfagatectl", c.Kind)
}

// finalResult prints the finished challenge; anything but approved is a
// failure of the command.
func (e *env) finalResult(c challengeView, raw []byte) error {
	if e.g.json {
		e.printJSON(raw)
	} else {
		fmt.Fprintf(e.stdout, "Challenge %s: %s.\n", c.ID, describeEnd(c))
	}
	if c.Status != "approved" {
		return fmt.Errorf("challenge %s ended %s", c.ID, describeEnd(c))
	}
	return nil
}

func setupVerify(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("POST", pathf("/v1/challenges/%s/verify", args[0]), nil, map[string]string{"code": args[1]})
		if err != nil {
			return err
		}
		_, err = e.showChallenge(raw)
		return err
	}
}

func setupWait(fs *flag.FlagSet) action {
	wait := fs.Duration("wait", 0, "return as soon as the status changes, or after `DURATION` (at most 25s; default 25s, or less to fit -timeout)")
	return func(e *env, args []string) error {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "wait" })
		if !given {
			*wait = longPoll(e.g.timeout)
		}
		if *wait < 0 || *wait > maxWait {
			return usagef("wait: -wait %s: use a duration from 0s to %s", *wait, maxWait)
		}
		if *wait >= e.g.timeout {
			return usagef("wait: -wait %s must be shorter than -timeout %s", *wait, e.g.timeout)
		}
		raw, err := e.call("GET", pathf("/v1/challenges/%s", args[0]), map[string]string{"wait": wait.String()}, nil)
		if err != nil {
			return err
		}
		c, err := e.showChallenge(raw)
		if err != nil {
			return err
		}
		// A script reads the outcome from the exit status: a challenge
		// that ended other than approved fails the command.
		if c.final() && c.Status != "approved" {
			return fmt.Errorf("challenge %s ended %s", c.ID, describeEnd(c))
		}
		return nil
	}
}
