package pi

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// pyJSON is checked against Python itself: each value goes to python3 as
// standard JSON and comes back as json.dumps(v, sort_keys=True), which must
// equal pyJSON's bytes exactly.
func TestPyJSONMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; make deps installs it")
	}
	values := []any{
		map[string]any{"b": 1, "a": []any{true, false, nil}, "c": map[string]any{"z": "x", "y": 1.5}},
		map[string]any{"message": "認証アプリ（Phone）のコードを入力してください", "emoji": "key 🔑", "ctl": "tab\there\nnl\r\b\f\x01\x1f\x7f", "q": `"\/`},
		// Floats only: Python reads this line's numbers as floats.
		map[string]any{"time": 1796644710.070334, "whole": 3.0, "small": 0.0001, "tiny": 0.00001, "big": 1e16, "neg": -2.5, "zero": 0.0, "third": 1.0 / 3},
		map[string]any{"list": []string{"a", "b"}, "maps": []map[string]any{{"k": 1}, {"k": 2}}, "empty": map[string]any{}, "none": []any{}},
		map[string]any{"Z": 1, "a": 2, "_": 3, "é": 4, "ü": 5, "1": 6},
	}
	var in bytes.Buffer
	var want []string
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(b)
		in.WriteByte('\n')
		want = append(want, pyJSON(v))
	}
	cmd := exec.Command(py, "-c", `import json, sys
for i, line in enumerate(sys.stdin):
    v = json.loads(line, parse_int=float) if i == 2 else json.loads(line)
    print(json.dumps(v, sort_keys=True))`)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("python printed %d lines for %d values", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d:\npython: %s\npyJSON: %s", i, got[i], want[i])
		}
	}
}
