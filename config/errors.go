package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a configuration, tied to the key it is
// about. Parse and Load return every Problem they find joined with
// errors.Join; use Problems to get them back one by one.
type Problem struct {
	File  string // file name as given to Load; empty for Parse
	Line  int    // 1-based line of the key in the file; 0 when the key is not written there
	Key   string // dotted key; elements of arrays carry an index: "api.client[1].roles"
	Value string // the offending value as TOML would spell it; empty when there is none to show
	Msg   string // what is wrong and what is allowed
}

func (p *Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		fmt.Fprintf(&b, "%s: ", p.File)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	b.WriteString(p.Key)
	if p.Value != "" {
		b.WriteString(" = ")
		b.WriteString(p.Value)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// Problems returns the Problems joined into err (nil if there are none).
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if p, ok := e.(*Problem); ok {
			out = append(out, p)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	return out
}

// joinProblems sorts problems by line (problems without a line last, in the
// order found) and joins them into one error.
func joinProblems(ps []*Problem) error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// SyntaxError is a TOML syntax error with its position. Unwrap gives the
// toml.ParseError.
type SyntaxError struct {
	File    string
	Line    int // 1-based
	Col     int // 1-based, in bytes
	Msg     string
	LastKey string // the last key read before the error, dotted; may be empty
	Err     toml.ParseError
}

func (e *SyntaxError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	} else {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Col)
	}
	b.WriteString("TOML syntax error: ")
	b.WriteString(e.Msg)
	if e.LastKey != "" {
		fmt.Fprintf(&b, " (after key %s)", e.LastKey)
	}
	// ErrorWithPosition shows the offending line with a caret under the
	// error; keep that excerpt and drop its own one-line summary.
	full := e.Err.ErrorWithPosition()
	if i := strings.Index(full, ":\n\n"); i >= 0 && strings.HasPrefix(full, "toml: error:") {
		b.WriteString("\n\n")
		b.WriteString(strings.TrimRight(full[i+3:], "\n"))
	}
	return b.String()
}

func (e *SyntaxError) Unwrap() error { return e.Err }
