package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// kind is what a key of the schema holds.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
	kindStrings
	kindStringOrStrings
	kindTable
	kindTables
)

// schema maps every plain dotted key Config accepts ("api.client.name") to
// its kind. It is derived from the toml tags, so it cannot drift from the
// structs.
var schema = func() map[string]kind {
	m := map[string]kind{}
	addSchema(m, "", reflect.TypeOf(Config{}))
	return m
}()

var (
	durationType   = reflect.TypeOf(Duration{})
	stringListType = reflect.TypeOf(StringList{})
)

func addSchema(m map[string]kind, prefix string, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		switch {
		case f.Type == durationType:
			m[key] = kindDuration
		case f.Type == stringListType:
			m[key] = kindStringOrStrings
		case f.Type.Kind() == reflect.Struct:
			m[key] = kindTable
			addSchema(m, key, f.Type)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			m[key] = kindTable // an optional section: nil when absent
			addSchema(m, key, f.Type.Elem())
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			m[key] = kindTables
			addSchema(m, key, f.Type.Elem())
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			m[key] = kindStrings
		case f.Type.Kind() == reflect.String:
			m[key] = kindString
		case f.Type.Kind() == reflect.Int:
			m[key] = kindInt
		case f.Type.Kind() == reflect.Bool:
			m[key] = kindBool
		default:
			panic(fmt.Sprintf("config: no schema kind for %s (%s)", key, f.Type))
		}
	}
}

// childrenOf lists the keys directly under a plain table key ("" for the top).
func childrenOf(table string) []string {
	var out []string
	for k := range schema {
		if p := parentKey(k); p == table {
			out = append(out, strings.TrimPrefix(k[len(p):], "."))
		}
	}
	sort.Strings(out)
	return out
}

// unknownKeys reports keys the schema does not have. The library matches
// field names case-insensitively and marks such keys decoded, so besides
// MetaData.Undecoded every key is checked against the schema exactly.
func unknownKeys(md toml.MetaData, data []byte, decoded bool) []*Problem {
	unknown := map[string]bool{}
	if decoded {
		for _, k := range md.Undecoded() {
			unknown[k.String()] = true
		}
	}
	for _, k := range md.Keys() {
		if _, ok := schema[k.String()]; !ok {
			unknown[k.String()] = true
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	// Report only the outermost unknown key: for an unknown table, the
	// table, not each key in it.
	outermost := func(k string) bool {
		for p := parentKey(k); p != ""; p = parentKey(p) {
			if unknown[p] {
				return false
			}
		}
		return true
	}
	var ps []*Problem
	seen := map[string]bool{}
	for _, kp := range indexKeys(data).all {
		if kp.elem || !unknown[kp.plain] || !outermost(kp.plain) || seen[kp.indexed] {
			continue
		}
		seen[kp.indexed], seen[kp.plain] = true, true
		ps = append(ps, &Problem{Key: kp.indexed, Line: kp.line, Msg: unknownMsg(kp.plain, kp.indexed, md.Type(strings.Split(kp.plain, ".")...))})
	}
	// Keys the scanner missed are still reported, without a line.
	var rest []string
	for k := range unknown {
		if !seen[k] && outermost(k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		ps = append(ps, &Problem{Key: k, Msg: unknownMsg(k, k, "")})
	}
	return ps
}

// unknownMsg describes an unknown key, given in plain and indexed form, and
// suggests the key probably meant.
func unknownMsg(key, indexed, tomlType string) string {
	what := "unknown key"
	if tomlType == "Hash" || tomlType == "ArrayHash" {
		what = "unknown table"
	}
	parent := parentKey(key)
	name := strings.TrimPrefix(key[len(parent):], ".")
	valid := childrenOf(parent)
	if s := closest(name, valid); s != "" {
		if p := parentKey(indexed); p != "" {
			s = p + "." + s
		}
		return fmt.Sprintf("%s (did you mean %s?)", what, s)
	}
	where := "at the top level"
	if parent != "" {
		where = "in [" + parent + "]"
	}
	if len(valid) == 0 {
		return fmt.Sprintf("%s: %s takes no keys", what, parent)
	}
	return fmt.Sprintf("%s; valid %s: %s", what, where, strings.Join(valid, ", "))
}

// closest returns the candidate nearest to name if it is close enough to be a
// likely typo.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		if d := editDistance(strings.ToLower(name), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typeProblems checks every value of a document that failed to decode
// against the schema, so that all wrong types are reported together, with
// unknown keys.
func typeProblems(data []byte, md toml.MetaData) []*Problem {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil
	}
	var ps []*Problem
	checkTable(&ps, raw, "", "")
	if len(ps) == 0 {
		return nil
	}
	// Undecoded is meaningless after a failed decode (decoding stopped
	// early), but the exact schema check still finds unknown keys.
	return append(ps, unknownKeys(md, data, false)...)
}

func checkTable(ps *[]*Problem, m map[string]any, plain, indexed string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := toml.Key{k}.String()
		p, ix := name, name
		if plain != "" {
			p, ix = plain+"."+name, indexed+"."+name
		}
		kd, ok := schema[p]
		if !ok {
			continue // reported as unknown
		}
		v := m[k]
		bad := func(msg string) {
			*ps = append(*ps, &Problem{Key: ix, Value: formatValue(v), Msg: msg})
		}
		switch kd {
		case kindString:
			if _, ok := v.(string); !ok {
				bad("must be a string, in double quotes")
			}
		case kindInt:
			if _, ok := v.(int64); !ok {
				bad("must be a whole number, without quotes")
			}
		case kindBool:
			if _, ok := v.(bool); !ok {
				bad("must be true or false, without quotes")
			}
		case kindDuration:
			s, ok := v.(string)
			if !ok {
				bad(`must be a duration in double quotes, like "30s", "5m" or "1h"`)
			} else if _, err := parseDuration(s); err != nil {
				bad(`is not a duration: write a number with a unit, like "30s", "5m", "1h" or "30d"`)
			}
		case kindStrings:
			arr, ok := v.([]any)
			for _, e := range arr {
				if _, isStr := e.(string); !isStr {
					ok = false
				}
			}
			if !ok {
				bad(`must be an array of strings, like ["a", "b"]`)
			}
		case kindStringOrStrings:
			if _, isStr := v.(string); isStr {
				break
			}
			arr, ok := v.([]any)
			for _, e := range arr {
				if _, isStr := e.(string); !isStr {
					ok = false
				}
			}
			if !ok {
				bad(`must be a string in double quotes, or an array of them like ["a", "b"]`)
			}
		case kindTable:
			sub, ok := v.(map[string]any)
			if !ok {
				bad("must be a table: write [" + p + "] on its own line and the keys under it")
				continue
			}
			checkTable(ps, sub, p, ix)
		case kindTables:
			elems, ok := tableElems(v)
			if !ok {
				bad("must be an array of tables: write [[" + p + "]] before each one")
				continue
			}
			for i, e := range elems {
				checkTable(ps, e, p, ix+"["+strconv.Itoa(i)+"]")
			}
		}
	}
}

// tableElems returns the tables of a decoded array of tables, written as
// [[name]] sections or inline (name = [{…}, {…}]); ok is false if v is not
// an array of tables.
func tableElems(v any) (elems []map[string]any, ok bool) {
	switch a := v.(type) {
	case []map[string]any:
		return a, true
	case []any:
		ok = true
		for _, e := range a {
			t, isTable := e.(map[string]any)
			ok = ok && isTable
			elems = append(elems, t)
		}
		return elems, ok
	}
	return nil, false
}

// formatValue spells a decoded TOML value the way it is written, shortened.
func formatValue(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	case int64, bool:
		s = fmt.Sprint(x)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEIN") { // keep 6.0 looking like a float, unlike 6
			s += ".0"
		}
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		s = "[" + strings.Join(parts, ", ") + "]"
	case map[string]any, []map[string]any:
		s = "{…}"
	default:
		s = fmt.Sprint(x)
	}
	return shorten(s)
}

func shorten(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
