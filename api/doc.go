// Package api serves the gateway's HTTP API (design/API.md): routing on
// http.ServeMux patterns, bearer-token authentication with roles, strict
// JSON decoding, RFC 9457 problem responses, the OpenAPI document, health
// and readiness, and /metrics. It holds no domain rules: every decision is
// the mfa package's.
package api
