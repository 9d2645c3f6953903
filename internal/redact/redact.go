// Package redact makes URLs fit for logs, error messages and Grafana's UI:
// the one rule both the ingest service and the datasource plugin use.
package redact

import "net/url"

// URL returns u with a password replaced by xxxxx (user:xxxxx@) and its
// query (which may hold a token) dropped. A string that does not parse as a
// URL is not echoed at all.
func URL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if parsed.RawQuery != "" {
		parsed.RawQuery = "redacted"
	}
	return parsed.Redacted()
}
