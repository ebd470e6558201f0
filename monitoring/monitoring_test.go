package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	rulesFile     = "mfagate-alerts.yml"
	rulesTestFile = "mfagate-alerts_test.yml"
	dashboardFile = "grafana-dashboard.json"
)

// knownMetrics mirrors the metrics the gateway exports (README.md, Metrics;
// metrics/metrics.go and metrics/modems.go). Histograms are listed by their
// base name; their _bucket, _sum and _count series are accepted.
var knownMetrics = map[string]bool{
	"mfagate_http_requests_total":                          false,
	"mfagate_http_request_duration_seconds":                true, // histogram
	"mfagate_challenges_created_total":                     false,
	"mfagate_challenges_finished_total":                    false,
	"mfagate_verification_failures_total":                  false,
	"mfagate_fraud_reports_total":                          false,
	"mfagate_tap_issued_total":                             false,
	"mfagate_staff_actions_total":                          false,
	"mfagate_secrets_resealed_total":                       false,
	"mfagate_secrets_sealed_with_previous":                 false,
	"mfagate_secrets_unreadable":                           false,
	"mfagate_secrets_previous_keys":                        false,
	"mfagate_users":                                        false,
	"mfagate_store_pruned_rows_total":                      false,
	"mfagate_store_commits_total":                          false,
	"mfagate_store_wal_frames_total":                       false,
	"mfagate_build_info":                                   false,
	"mfagate_modem_up":                                     false,
	"mfagate_modem_state":                                  false,
	"mfagate_modem_signal_dbm":                             false,
	"mfagate_modem_registration":                           false,
	"mfagate_modem_busy":                                   false,
	"mfagate_modem_sms_sent_today":                         false,
	"mfagate_modem_daily_cap":                              false,
	"mfagate_modem_sms_sent_total":                         false,
	"mfagate_modem_sms_failed_total":                       false,
	"mfagate_modem_calls_total":                            false,
	"mfagate_modem_reopens_total":                          false,
	"mfagate_modem_jobs_total":                             false,
	"mfagate_modem_job_duration_seconds":                   true, // histogram
	"mfagate_modem_dtmf_total":                             false,
	"mfagate_modem_sms_failures_total":                     false,
	"mfagate_outbox_queued":                                false,
	"mfagate_outbox_sending":                               false,
	"mfagate_outbox_oldest_queued_age_seconds":             false,
	"mfagate_fido_enrollments_total":                       false,
	"mfagate_fido_metadata_configured":                     false,
	"mfagate_fido_metadata_valid":                          false,
	"mfagate_fido_metadata_next_update_timestamp_seconds":  false,
	"mfagate_config_last_reload_successful":                false,
	"mfagate_config_last_reload_success_timestamp_seconds": false,
	"mfagate_node_info":                                    false,
	"mfagate_modem_node":                                   false,
	"mfagate_cluster_node_up":                              false,
	"mfagate_cluster_node_heartbeat_age_seconds":           false,
	"mfagate_cluster_node_jobs_sending":                    false,
	"mfagate_cluster_node_modems_up":                       false,
}

var metricToken = regexp.MustCompile(`mfagate_[a-z_]+`)

// unknownMetrics returns the mfagate_ names in expr that the gateway does
// not export.
func unknownMetrics(expr string) []string {
	var bad []string
	for _, name := range metricToken.FindAllString(expr, -1) {
		if _, ok := knownMetrics[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok {
				base = b
				break
			}
		}
		if knownMetrics[base] {
			continue
		}
		bad = append(bad, name)
	}
	return bad
}

func TestUnknownMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`rate(mfagate_modem_job_duration_seconds_bucket[5m])`: nil,
		`mfagate_http_request_duration_seconds_count`:         nil,
		`mfagate_modem_up_count`:                              {"mfagate_modem_up_count"}, // not a histogram
		`mfagate_sms_total + mfagate_users`:                   {"mfagate_sms_total"},
	} {
		if got := unknownMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("unknownMetrics(%q) = %q, want %q", expr, got, want)
		}
	}
}

// promtool returns the path of promtool, or skips the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found in PATH: the rules are not checked (make deps installs it with the Debian prometheus package)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", rulesFile)
}

func TestRulesUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", rulesTestFile)
}

// The rule files keep a fixed style so that a few patterns read them:
// "- alert: Name" starts a rule, "- eval_time:" starts an alert test case.
var (
	alertLine    = regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	evalLine     = regexp.MustCompile(`(?m)^\s*- eval_time:`)
	alertnameKey = regexp.MustCompile(`(?m)^\s*alertname:\s*(\S+)\s*$`)
	severityKey  = regexp.MustCompile(`(?m)^\s*severity:\s*(\S+)\s*$`)
)

// alertBlocks splits the rules file into its alerts' text, by name.
func alertBlocks(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	locs := alertLine.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		t.Fatalf("%s: no '- alert:' lines", rulesFile)
	}
	blocks := map[string]string{}
	for i, l := range locs {
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := s[l[2]:l[3]]
		if _, dup := blocks[name]; dup {
			t.Errorf("%s: alert %s defined twice", rulesFile, name)
		}
		// A following group header belongs to no alert.
		block := s[l[0]:end]
		if i := strings.Index(block, "\n  - name:"); i >= 0 {
			block = block[:i]
		}
		blocks[name] = block
	}
	return blocks
}

func TestRulesStyle(t *testing.T) {
	for name, block := range alertBlocks(t) {
		if !strings.HasPrefix(name, "Mfagate") {
			t.Errorf("%s: alert names start with Mfagate", name)
		}
		sev := severityKey.FindAllStringSubmatch(block, -1)
		if len(sev) != 1 || !slices.Contains([]string{"critical", "warning", "info"}, sev[0][1]) {
			t.Errorf("%s: want one severity label of critical, warning or info, got %q", name, sev)
		}
		for _, key := range []string{"expr:", "summary:", "description:"} {
			if !strings.Contains(block, key) {
				t.Errorf("%s: no %s", name, key)
			}
		}
		if !strings.Contains(block, `job="mfagate"`) {
			t.Errorf(`%s: the expression does not select job="mfagate"`, name)
		}
		if bad := unknownMetrics(block); len(bad) > 0 {
			t.Errorf("%s: unknown metrics %q", name, bad)
		}
	}
}

// TestEveryAlertTested checks that each alert has a test case where it
// fires and one where it does not, and that every tested name exists
// (promtool accepts "exp_alerts: []" for an alert that does not exist).
func TestEveryAlertTested(t *testing.T) {
	alerts := alertBlocks(t)
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	firing, quiet := map[string]int{}, map[string]int{}
	locs := evalLine.FindAllStringIndex(s, -1)
	for i, l := range locs {
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		item := s[l[0]:end]
		// The item ends where the next test group begins.
		if j := strings.Index(item, "\n  - interval:"); j >= 0 {
			item = item[:j]
		}
		m := alertnameKey.FindStringSubmatch(item)
		if m == nil {
			t.Errorf("%s: test case without alertname: %.60q", rulesTestFile, item)
			continue
		}
		name := m[1]
		if _, ok := alerts[name]; !ok {
			t.Errorf("%s: tests alert %s, which %s does not define", rulesTestFile, name, rulesFile)
		}
		if strings.Contains(item, "exp_labels:") {
			firing[name]++
		} else {
			quiet[name]++
		}
	}
	names := make([]string, 0, len(alerts))
	for name := range alerts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if firing[name] == 0 {
			t.Errorf("%s: no test case where %s fires", rulesTestFile, name)
		}
		if quiet[name] == 0 {
			t.Errorf("%s: no test case where %s does not fire", rulesTestFile, name)
		}
	}
	t.Logf("%d alerts; firing cases %v; quiet cases %v", len(names), firing, quiet)
}

type dashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // inside collapsed rows
}

func readDashboard(t *testing.T) (dashboard, any) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// exprs collects every "expr" and every template-variable query in the
// document, wherever it sits.
func exprs(v any, inTemplating bool, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || (inTemplating && (k == "query" || k == "definition"))) {
				*out = append(*out, s)
				continue
			}
			exprs(x, inTemplating || k == "templating", out)
		}
	case []any:
		for _, x := range v {
			exprs(x, inTemplating, out)
		}
	}
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboardMetrics(t *testing.T) {
	_, raw := readDashboard(t)
	var all []string
	exprs(raw, false, &all)
	if len(all) < 20 {
		t.Fatalf("%s: only %d expressions found", dashboardFile, len(all))
	}
	for _, e := range all {
		if bad := unknownMetrics(e); len(bad) > 0 {
			t.Errorf("%s: %q uses unknown metrics %q", dashboardFile, e, bad)
		}
	}
}

func TestDashboardShape(t *testing.T) {
	d, _ := readDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want at least 36", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type + " " + string(v.Query)
	}
	if got := vars["datasource"]; got != `datasource "prometheus"` {
		t.Errorf("datasource variable: %q, want a datasource variable of type prometheus", got)
	}
	if got := vars["modem"]; !strings.HasPrefix(got, "query ") || !strings.Contains(got, "label_values(mfagate_modem_up") {
		t.Errorf("modem variable: %q, want label_values(mfagate_modem_up…, modem)", got)
	}
	ids := map[int]string{}
	titles := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		titles[p.Title] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if !bytes.Contains(p.Datasource, []byte(`"${datasource}"`)) {
			t.Errorf("panel %q does not use the datasource variable: %s", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" {
				t.Errorf("panel %q: a query without expr or refId", p.Title)
			}
		}
	}
	for _, want := range []string{
		"Challenges by result", "Verification failures", "Delivery latency", "Signal", "Registration",
		"Throughput: jobs by result", "SIM usage vs daily cap", "Outbox depth", "Oldest queued job age",
		"API requests by route and code", "API p99 latency by route", "FIDO enrollments",
		"Users by MFA state", "Fraud reports",
	} {
		if !titles[want] {
			t.Errorf("no panel titled %q", want)
		}
	}
}

// TestDashboardPromQL has promtool parse every panel query, as recording
// rules, with Grafana's variables replaced by plain values.
func TestDashboardPromQL(t *testing.T) {
	tool := promtool(t)
	d, _ := readDashboard(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h",
		"$instance", ".*", "$modem", ".*", "${instance}", ".*", "${modem}", ".*")
	var buf strings.Builder
	buf.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			q, _ := json.Marshal(vars.Replace(tg.Expr)) // a JSON string is a YAML double-quoted scalar
			fmt.Fprintf(&buf, "      - record: dashboard:panel%d_%s\n        expr: %s\n", p.ID, tg.RefID, q)
			n++
		}
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on %d dashboard queries: %v\n%s", n, err, out)
	}
}
