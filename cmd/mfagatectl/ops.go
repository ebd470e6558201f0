package main

import (
	"flag"
	"fmt"
	"strconv"
)

func setupApply(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("PUT", pathf("/v1/users/%s/mfa", args[0]), nil, map[string]bool{"enabled": true})
		if err != nil {
			return err
		}
		return e.printUser(raw)
	}
}

func setupTerminate(fs *flag.FlagSet) action {
	return func(e *env, args []string) error {
		raw, err := e.call("DELETE", pathf("/v1/users/%s/mfa", args[0]), nil, nil)
		if err != nil {
			return err
		}
		return e.printUser(raw)
	}
}

// limitFlag defines -limit; 0 leaves the choice to the gateway.
func limitFlag(fs *flag.FlagSet, what string) *int {
	return fs.Int("limit", 0, "show at most `N` "+what+", 1 to 1000 (default: the gateway's)")
}

func limitQuery(n int) (string, error) {
	if n == 0 {
		return "", nil
	}
	if n < 1 || n > 1000 {
		return "", usagef("-limit %d: use a number from 1 to 1000", n)
	}
	return strconv.Itoa(n), nil
}

func setupAudit(fs *flag.FlagSet) action {
	user := fs.String("user", "", "only the events of `USER`")
	limit := limitFlag(fs, "events")
	return func(e *env, args []string) error {
		lim, err := limitQuery(*limit)
		if err != nil {
			return err
		}
		raw, err := e.call("GET", "/v1/audit", map[string]string{"user": *user, "limit": lim}, nil)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		var events []eventView
		if err := decodeAnswer(raw, &events); err != nil {
			return err
		}
		if len(events) == 0 {
			fmt.Fprintln(e.stdout, "no audit events")
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tAT\tUSER\tEVENT\tACTOR\tMETHOD\tCHALLENGE\tDETAIL")
		for _, ev := range events {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.ID, stamp(ev.At), dash(ev.User), ev.Type,
				dash(ev.Actor), dash(ev.Method), dash(ev.Challenge), dash(ev.Detail))
		}
		return tw.Flush()
	}
}

func setupOutbox(fs *flag.FlagSet) action {
	state := fs.String("state", "", "only jobs in `STATE`: queued, sending or failed")
	limit := limitFlag(fs, "jobs")
	return func(e *env, args []string) error {
		if *state != "" {
			if err := oneOf("state", *state, "queued", "sending", "failed"); err != nil {
				return err
			}
		}
		lim, err := limitQuery(*limit)
		if err != nil {
			return err
		}
		raw, err := e.call("GET", "/v1/outbox", map[string]string{"state": *state, "limit": lim}, nil)
		if err != nil {
			return err
		}
		if e.g.json {
			e.printJSON(raw)
			return nil
		}
		var jobs []jobView
		if err := decodeAnswer(raw, &jobs); err != nil {
			return err
		}
		if len(jobs) == 0 {
			fmt.Fprintln(e.stdout, "no jobs")
			return nil
		}
		tw := e.table()
		fmt.Fprintln(tw, "ID\tCHALLENGE\tCHANNEL\tTO\tSTATE\tMODEM\tATTEMPTS\tREASON\tCREATED\tEXPIRES")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Challenge, j.Channel, j.To, j.State,
				dash(j.Modem), j.Attempts, dash(j.Reason), stamp(j.CreatedAt), stamp(j.ExpiresAt))
		}
		return tw.Flush()
	}
}
