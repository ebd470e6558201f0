package config

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

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
	Line    int    // 1-based
	Col     int    // 1-based, in characters
	Msg     string // the parser's message
	LastKey string // the last key read before the error, dotted; may be empty
	Excerpt string // the offending line and the one before, with a caret under the error
	Err     toml.ParseError
}

// newSyntaxError places a parse error. The library's line is sometimes the
// one after an error at a line end, so line and column are recomputed from
// the byte offset.
func newSyntaxError(pe toml.ParseError, data []byte, file string) *SyntaxError {
	start := min(max(pe.Position.Start, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:start], '\n') + 1
	lineEnd := bytes.IndexByte(data[lineStart:], '\n')
	if lineEnd < 0 {
		lineEnd = len(data)
	} else {
		lineEnd += lineStart
	}
	e := &SyntaxError{
		File:    file,
		Line:    bytes.Count(data[:start], []byte{'\n'}) + 1,
		Col:     utf8.RuneCount(data[lineStart:start]) + 1,
		Msg:     pe.Message,
		LastKey: pe.LastKey,
		Err:     pe,
	}
	var b strings.Builder
	if lineStart > 0 {
		prevStart := bytes.LastIndexByte(data[:lineStart-1], '\n') + 1
		fmt.Fprintf(&b, "%6d | %s\n", e.Line-1, strings.TrimRight(string(data[prevStart:lineStart-1]), "\r"))
	}
	line := strings.TrimRight(string(data[lineStart:lineEnd]), "\r")
	fmt.Fprintf(&b, "%6d | %s\n", e.Line, line)
	// Keep tabs in the caret line so that it lines up whatever the tab width.
	pad := strings.Map(func(r rune) rune {
		if r == '\t' {
			return r
		}
		return ' '
	}, string(data[lineStart:start]))
	fmt.Fprintf(&b, "%6s   %s^", "", pad)
	e.Excerpt = b.String()
	return e
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
	if e.Excerpt != "" {
		b.WriteString("\n")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

func (e *SyntaxError) Unwrap() error { return e.Err }
