// Package monitoring holds no code: it ships the Prometheus alert rules
// (mfagate-alerts.yml), their unit tests (mfagate-alerts_test.yml) and the
// Grafana dashboard (grafana-dashboard.json). Its Go tests check them with
// promtool and against the gateway's metric names, so that `go test ./...`
// catches a broken rule, an alert without tests, or a panel that queries a
// metric the gateway does not export. See README.md for how to load them.
package monitoring
