package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The TOML library keeps the position of each key to itself, so this file
// finds them with a small scanner of its own. It runs only on documents the
// library has already parsed, so it can be lenient: on anything it does not
// understand it stops and returns what it found. Every loop consumes input,
// so it ends on any input.

// keyPos is one key as written in a document.
type keyPos struct {
	plain   string // "api.client.name": the form toml.Key.String gives
	indexed string // "api.client[1].name": with array positions
	line    int    // 1-based
	elem    bool   // an element of an array: indexed ends with "[n]"
}

// keyIndex holds the positions of the keys of one document.
type keyIndex struct {
	all   []keyPos       // in document order
	lines map[string]int // indexed key → first line it appears on
}

// line returns the line of an indexed key, or of its closest written parent
// ("api.client[0]" for an unwritten "api.client[0].roles"), or 0.
func (ki *keyIndex) line(indexed string) int {
	for k := indexed; k != ""; k = parentKey(k) {
		if l, ok := ki.lines[k]; ok {
			return l
		}
	}
	return 0
}

// parentKey strips the last component or index from an indexed key.
func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	// Quoted components may contain dots; scan from the left, skipping them.
	last, inQuote := -1, false
	for i := 0; i < len(k); i++ {
		switch {
		case k[i] == '\\' && inQuote:
			i++
		case k[i] == '"':
			inQuote = !inQuote
		case k[i] == '.' && !inQuote:
			last = i
		}
	}
	if last < 0 {
		return ""
	}
	return k[:last]
}

// indexKeys scans src for the keys it defines.
func indexKeys(src []byte) *keyIndex {
	s := &keyScanner{
		src:     string(src),
		line:    1,
		aotNext: map[string]int{},
		aotCur:  map[string][]string{},
		idx:     &keyIndex{lines: map[string]int{}},
	}
	s.run()
	return s.idx
}

type keyScanner struct {
	src     string
	i       int
	line    int
	table   []string            // current table, indexed components
	aotNext map[string]int      // indexed array-of-tables key → next element index
	aotCur  map[string][]string // plain array-of-tables key → indexed components of its current element
	idx     *keyIndex
}

// components are key names, or "[n]" for an array position.
func indexedString(comp []string) string {
	var b strings.Builder
	for i, c := range comp {
		if strings.HasPrefix(c, "[") {
			b.WriteString(c)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(toml.Key{c}.String())
	}
	return b.String()
}

func plainString(comp []string) string {
	k := make(toml.Key, 0, len(comp))
	for _, c := range comp {
		if !strings.HasPrefix(c, "[") {
			k = append(k, c)
		}
	}
	return k.String()
}

func (s *keyScanner) record(comp []string, line int) {
	ind := indexedString(comp)
	if _, ok := s.idx.lines[ind]; !ok {
		s.idx.lines[ind] = line
	}
	elem := len(comp) > 0 && strings.HasPrefix(comp[len(comp)-1], "[")
	s.idx.all = append(s.idx.all, keyPos{plain: plainString(comp), indexed: ind, line: line, elem: elem})
}

func (s *keyScanner) eof() bool { return s.i >= len(s.src) }

func (s *keyScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

// skipSpace skips blanks, and newlines and comments too if nl is set.
func (s *keyScanner) skipSpace(nl bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '\n' && nl:
			s.line++
			s.i++
		case c == '#' && nl:
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *keyScanner) run() {
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			s.header()
		} else {
			comp := s.key()
			if comp == nil {
				return
			}
			s.keyValue(s.table, comp, s.line)
		}
		if s.i == start { // nothing understood: give up rather than loop
			return
		}
	}
}

func (s *keyScanner) header() {
	line := s.line
	aot := s.peek(1) == '['
	if aot {
		s.i += 2
	} else {
		s.i++
	}
	names := s.key()
	if names == nil {
		return
	}
	// Resolve parents that are arrays of tables to their current element.
	var comp []string
	for j, n := range names {
		comp = append(comp, n)
		if j < len(names)-1 {
			if cur, ok := s.aotCur[toml.Key(names[:j+1]).String()]; ok {
				comp = append([]string(nil), cur...)
			}
		}
	}
	if aot {
		k := indexedString(comp)
		n := s.aotNext[k]
		s.aotNext[k] = n + 1
		s.record(comp, line) // the array itself
		comp = append(comp, "["+strconv.Itoa(n)+"]")
		s.aotCur[toml.Key(names).String()] = append([]string(nil), comp...)
	}
	s.record(comp, line)
	s.table = comp
	for !s.eof() && s.src[s.i] != '\n' && s.src[s.i] != '#' {
		s.i++
	}
}

// key reads a possibly dotted, possibly quoted key; nil if there is none.
func (s *keyScanner) key() []string {
	var parts []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return nil
		}
		switch c := s.src[s.i]; {
		case c == '"':
			p, ok := s.basicString()
			if !ok {
				return nil
			}
			if u, err := strconv.Unquote(p); err == nil {
				p = u
			} else {
				p = p[1 : len(p)-1]
			}
			parts = append(parts, p)
		case c == '\'':
			end := strings.IndexAny(s.src[s.i+1:], "'\n")
			if end < 0 || s.src[s.i+1+end] != '\'' {
				return nil
			}
			parts = append(parts, s.src[s.i+1:s.i+1+end])
			s.i += end + 2
		case isBare(c):
			j := s.i
			for j < len(s.src) && isBare(s.src[j]) {
				j++
			}
			parts = append(parts, s.src[s.i:j])
			s.i = j
		default:
			return nil
		}
		s.skipSpace(false)
		if s.peek(0) != '.' {
			return parts
		}
		s.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyValue reads "key = value" under prefix, recording the keys it defines.
func (s *keyScanner) keyValue(prefix, names []string, line int) {
	comp := append([]string(nil), prefix...)
	for _, n := range names {
		comp = append(comp, n)
		s.record(comp, line)
	}
	s.skipSpace(false)
	if s.peek(0) != '=' {
		return
	}
	s.i++
	s.value(comp)
}

// value skips one value, recording keys inside inline tables and arrays.
func (s *keyScanner) value(comp []string) {
	s.skipSpace(false)
	if s.eof() {
		return
	}
	switch s.src[s.i] {
	case '"':
		if strings.HasPrefix(s.src[s.i:], `"""`) {
			s.multiline(`"""`, true)
		} else {
			s.basicString()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.i:], `'''`) {
			s.multiline(`'''`, false)
		} else if end := strings.IndexAny(s.src[s.i+1:], "'\n"); end >= 0 {
			s.i += end + 2
		} else {
			s.i = len(s.src)
		}
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			start := s.i
			elem := append(append([]string(nil), comp...), "["+strconv.Itoa(n)+"]")
			s.record(elem, s.line)
			s.value(elem)
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				return
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			start := s.i
			if names := s.key(); names != nil {
				s.keyValue(comp, names, s.line)
			}
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.i++
			} else if s.i == start {
				return
			}
		}
	default:
		for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// basicString reads a one-line "…" string and returns it with its quotes.
func (s *keyScanner) basicString() (string, bool) {
	start := s.i
	for j := s.i + 1; j < len(s.src); j++ {
		switch s.src[j] {
		case '\\':
			j++
		case '\n':
			s.i = j
			return "", false
		case '"':
			s.i = j + 1
			return s.src[start:s.i], true
		}
	}
	s.i = len(s.src)
	return "", false
}

// multiline skips a triple-quoted string (basic or literal), counting its lines.
func (s *keyScanner) multiline(delim string, escapes bool) {
	s.i += len(delim)
	for !s.eof() {
		c := s.src[s.i]
		switch {
		case c == '\\' && escapes:
			if s.peek(1) == '\n' {
				s.line++
			}
			s.i += 2
			continue
		case c == '\n':
			s.line++
		case strings.HasPrefix(s.src[s.i:], delim):
			s.i += len(delim)
			// Up to two quotes right before the delimiter belong to the string.
			for n := 0; n < 2 && s.peek(0) == delim[0]; n++ {
				s.i++
			}
			return
		}
		s.i++
	}
}
