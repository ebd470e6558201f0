package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

func setupUserShow(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("GET", pathf("/v1/users/%s", args[0]), nil, nil)
		if err != nil {
			return err
		}
		return e.printUser(raw)
	}
}

func setupAddTOTP(fs *flag.FlagSet) action {
	label := fs.String("label", "", "`LABEL` the user sees for the app (default \"Authenticator app\")")
	noConfirm := fs.Bool("no-confirm", false, "register only; confirm later with \"user confirm\"")
	invert := fs.Bool("qr-invert", false, "draw the QR code for a terminal with dark text on a light background")
	return func(e *env, args []string) error {
		user := args[0]
		body := map[string]string{"kind": "totp"}
		if *label != "" {
			body["label"] = *label
		}
		raw, err := e.call("POST", pathf("/v1/users/%s/methods", user), nil, body)
		if err != nil {
			return err
		}
		var a addMethodAnswer
		if err := decodeAnswer(raw, &a); err != nil {
			return err
		}
		if a.TOTP == nil || a.TOTP.URI == "" {
			return fmt.Errorf("the gateway registered %s but sent no authenticator key; remove it with \"mfagatectl user remove %s %s\"", a.Method.ID, user, a.Method.ID)
		}
		if e.g.json {
			e.printJSON(raw)
		} else if err := e.printEnrollment(user, a, *invert); err != nil {
			return err
		}
		later := fmt.Sprintf("mfagatectl user confirm %s %s CODE", user, a.Method.ID)
		if *noConfirm {
			e.note("Confirm it with: %s\n", later)
			return nil
		}
		prompt := fmt.Sprintf("Enter the %d-digit code shown in the app:", totpDigits(a.TOTP.URI))
		raw, err = e.submitCodes(prompt, func(code string) ([]byte, error) {
			return e.call("POST", pathf("/v1/users/%s/methods/%s/confirm", user, a.Method.ID), nil, map[string]string{"code": code})
		})
		if errors.Is(err, errNoCode) || errors.Is(err, errInterrupted) {
			return fmt.Errorf("%w; %s is registered but not confirmed: confirm it with \"%s\"", err, a.Method.ID, later)
		}
		if err != nil {
			return err
		}
		return e.confirmed(user, raw)
	}
}

// printEnrollment shows what the user needs to add the account to an app.
// The secret is printed because this is the one moment it is meant to be
// seen.
func (e *env) printEnrollment(user string, a addMethodAnswer, invert bool) error {
	w := e.stdout
	fmt.Fprintf(w, "Registered %s %q for user %s (not confirmed yet).\n", a.Method.ID, a.Method.Label, user)
	fmt.Fprintln(w, "Scan this QR code with the authenticator app:")
	fmt.Fprintln(w)
	if err := writeQR(w, a.TOTP.URI, invert); err != nil {
		// The URI and key below still let the user enroll.
		fmt.Fprintf(w, "(cannot draw the QR code: %v)\n", err)
	}
	fmt.Fprintln(w)
	tw := e.table()
	fmt.Fprintf(tw, "URI:\t%s\n", a.TOTP.URI)
	fmt.Fprintf(tw, "Manual key:\t%s\n", groupKey(a.TOTP.Secret))
	return tw.Flush()
}

// groupKey splits a base32 key into groups of four, as apps accept it for
// manual entry.
func groupKey(k string) string {
	var b strings.Builder
	for i, r := range k {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// totpDigits reads the code length from an otpauth URI (6 when absent).
func totpDigits(uri string) int {
	u, err := url.Parse(uri)
	if err != nil {
		return 6
	}
	if n, err := strconv.Atoi(u.Query().Get("digits")); err == nil && n > 0 {
		return n
	}
	return 6
}

// confirmed reports a successful confirmation answer.
func (e *env) confirmed(user string, raw []byte) error {
	if e.g.json {
		e.printJSON(raw)
		return nil
	}
	var a confirmAnswer
	if err := decodeAnswer(raw, &a); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Confirmed %s (%s, %q) for user %s.\n", a.Method.ID, a.Method.Kind, a.Method.Label, user)
	return nil
}

func oneOf(flagName, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	return usagef("-%s %q: use %s", flagName, v, list)
}

func setupAddPhone(fs *flag.FlagSet) action {
	slot := fs.String("slot", "", "the `SLOT` to fill: mobile, alternate or office (required)")
	phone := fs.String("phone", "", "the `NUMBER`, national (090-1234-5678) or E.164 (+8190…) (required)")
	channel := fs.String("channel", "", "deliver codes by `CHANNEL`: sms or voice (default sms)")
	label := fs.String("label", "", "`LABEL` the user sees for the phone")
	language := fs.String("language", "", "`LANGUAGE` of its SMS and calls: ja or en (default: the gateway's)")
	noConfirm := fs.Bool("no-confirm", false, "register only: do not wait for the code or the call")
	return func(e *env, args []string) error {
		user := args[0]
		if *slot == "" {
			return usagef("user add-phone: -slot is required: mobile, alternate or office")
		}
		if err := oneOf("slot", *slot, "mobile", "alternate", "office"); err != nil {
			return err
		}
		if *phone == "" {
			return usagef("user add-phone: -phone NUMBER is required")
		}
		if *channel != "" {
			if err := oneOf("channel", *channel, "sms", "voice"); err != nil {
				return err
			}
		}
		if *language != "" {
			if err := oneOf("language", *language, "ja", "en"); err != nil {
				return err
			}
		}
		body := map[string]string{"kind": "phone", "slot": *slot, "phone": *phone}
		for k, v := range map[string]string{"channel": *channel, "label": *label, "language": *language} {
			if v != "" {
				body[k] = v
			}
		}
		raw, err := e.call("POST", pathf("/v1/users/%s/methods", user), nil, body)
		if err != nil {
			return err
		}
		var a addMethodAnswer
		if err := decodeAnswer(raw, &a); err != nil {
			return err
		}
		if a.Challenge == nil {
			return fmt.Errorf("the gateway registered %s but started no confirmation", a.Method.ID)
		}
		if e.g.json {
			e.printJSON(raw)
		} else {
			fmt.Fprintf(e.stdout, "Registered %s (%s phone %s, %s) for user %s (not confirmed yet).\n",
				a.Method.ID, a.Method.Slot, a.Method.Phone, a.Method.Channel, user)
			if err := e.printChallenge(*a.Challenge); err != nil {
				return err
			}
		}
		if *noConfirm {
			if a.Challenge.Channel == "voice" {
				e.note("When the call is approved, confirm it with: mfagatectl user confirm %s %s %s\n", user, a.Method.ID, a.Challenge.ID)
			} else {
				e.note("Confirm it with: mfagatectl user confirm %s %s CODE\n", user, a.Method.ID)
			}
			return nil
		}
		if a.Challenge.Channel == "voice" {
			return e.confirmByCall(user, a)
		}
		prompt := fmt.Sprintf("Enter the code sent by SMS to %s:", a.Method.Phone)
		raw, err = e.submitCodes(prompt, func(code string) ([]byte, error) {
			return e.call("POST", pathf("/v1/users/%s/methods/%s/confirm", user, a.Method.ID), nil, map[string]string{"code": code})
		})
		if errors.Is(err, errNoCode) || errors.Is(err, errInterrupted) {
			return fmt.Errorf("%w; %s is registered but not confirmed: confirm it with \"mfagatectl user confirm %s %s CODE\"", err, a.Method.ID, user, a.Method.ID)
		}
		if err != nil {
			return err
		}
		return e.confirmed(user, raw)
	}
}

// confirmByCall waits for the confirmation call to end and, when the user
// approved it on the keypad, confirms the phone with that call.
func (e *env) confirmByCall(user string, a addMethodAnswer) error {
	c := *a.Challenge
	if c.NumberMatch != "" {
		e.note("Calling %s: answer and key in %s when asked.\n", a.Method.Phone, c.NumberMatch)
	} else {
		e.note("Calling %s: answer and follow the instructions.\n", a.Method.Phone)
	}
	c, _, err := e.awaitFinal(c)
	if err != nil {
		return err
	}
	if c.Status != "approved" {
		return fmt.Errorf("the call ended %s; %s is not confirmed: register the phone again with \"mfagatectl user add-phone\"", describeEnd(c), a.Method.ID)
	}
	raw, err := e.call("POST", pathf("/v1/users/%s/methods/%s/confirm", user, a.Method.ID), nil, map[string]string{"challenge": c.ID})
	if err != nil {
		return err
	}
	return e.confirmed(user, raw)
}

func describeEnd(c challengeView) string {
	if c.Reason != "" {
		return c.Status + " (" + c.Reason + ")"
	}
	return c.Status
}

func setupConfirm(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		user, id, code := args[0], args[1], args[2]
		body := map[string]string{"code": code}
		if strings.HasPrefix(code, "c_") {
			body = map[string]string{"challenge": code} // an approved confirmation call
		}
		raw, err := e.call("POST", pathf("/v1/users/%s/methods/%s/confirm", user, id), nil, body)
		if err != nil {
			return err
		}
		return e.confirmed(user, raw)
	}
}

func setupRemove(fs *flag.FlagSet) action {
	proof := fs.String("proof", "", "`CHALLENGE_ID` of an approved proof challenge of the user; needed once MFA is on, unless the token is admin")
	return func(e *env, args []string) error {
		user, id := args[0], args[1]
		raw, err := e.call("DELETE", pathf("/v1/users/%s/methods/%s", user, id), map[string]string{"proof": *proof}, nil)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw) // 204: nothing
			return nil
		}
		fmt.Fprintf(e.stdout, "Removed %s from user %s.\n", id, user)
		return nil
	}
}

func setupDefault(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("PUT", pathf("/v1/users/%s/default-method", args[0]), nil, map[string]string{"method": args[1]})
		if err != nil {
			return err
		}
		return e.printUser(raw)
	}
}

func setupUnlock(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("POST", pathf("/v1/users/%s/unlock", args[0]), nil, nil)
		if err != nil {
			return err
		}
		return e.printUser(raw)
	}
}
