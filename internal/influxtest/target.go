package influxtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// The environment of an opt-in target run (`make test-target`): tests that
// take their InfluxDB from OpenTarget run against the InfluxDB named here
// instead of a local 1.8.
const (
	EnvTargetURL      = "STOREPULSE_TARGET_URL"      // http(s)://host:port; setting it opts in
	EnvTargetToken    = "STOREPULSE_TARGET_TOKEN"    //nolint:gosec // the variable's name, not a secret: an API token (2.x, 3.x) or "user:password" (1.8), may be empty
	EnvTargetDatabase = "STOREPULSE_TARGET_DATABASE" // what the ingest's influx.bucket would be: "db/rp" or "db" (1.8), a bucket (2.x), a database (3.x)
	EnvTargetVersion  = "STOREPULSE_TARGET_VERSION"  // 1.8, 2.x or 3.x
	EnvTargetOrg      = "STOREPULSE_TARGET_ORG"      // the organisation, required by 2.x writes
)

// Target versions.
const (
	Version18 = "1.8"
	Version2  = "2.x"
	Version3  = "3.x"
)

// Target is the InfluxDB a storage test runs against.
type Target struct {
	URL, Token, Org string
	// Database is the configured bucket: "db/rp" or "db" on 1.8, a bucket
	// name on 2.x, a database name on 3.x.
	Database string
	Version  string
	// Local is true for the InfluxDB 1.8 started by this package, false for
	// a target named in the environment.
	Local bool
	// Server is the local server (nil for a named target).
	Server *Server
}

// TargetFromEnv reads the target named by the environment (getenv is
// os.Getenv in tests). named is false when STOREPULSE_TARGET_URL is not set;
// err explains a target that is named but incomplete or malformed. The token
// never appears in err.
func TargetFromEnv(getenv func(string) string) (t Target, named bool, err error) {
	raw := strings.TrimSpace(getenv(EnvTargetURL))
	if raw == "" {
		return Target{}, false, nil
	}
	t = Target{URL: strings.TrimRight(raw, "/"), Token: getenv(EnvTargetToken), Org: getenv(EnvTargetOrg),
		Database: getenv(EnvTargetDatabase), Version: getenv(EnvTargetVersion)}
	u, perr := url.Parse(t.URL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t, true, fmt.Errorf("%s must be http(s)://host[:port]", EnvTargetURL)
	}
	if u.User != nil {
		return t, true, fmt.Errorf("%s must not carry credentials: put them in %s", EnvTargetURL, EnvTargetToken)
	}
	var problems []string
	switch t.Version {
	case Version18, Version2, Version3:
	case "":
		problems = append(problems, fmt.Sprintf("%s is not set (1.8, 2.x or 3.x)", EnvTargetVersion))
	default:
		problems = append(problems, fmt.Sprintf("%s is %q: want 1.8, 2.x or 3.x", EnvTargetVersion, t.Version))
	}
	switch {
	case t.Database == "":
		problems = append(problems, fmt.Sprintf("%s is not set (the database or bucket to write test points into)", EnvTargetDatabase))
	case t.Version == Version3 && strings.Contains(t.Database, "/"):
		problems = append(problems, fmt.Sprintf("%s is %q: on InfluxDB 3 name a database without / (docs/influxdb3.md)", EnvTargetDatabase, t.Database))
	case t.Version == Version2 && t.Org == "":
		problems = append(problems, fmt.Sprintf("%s is not set: InfluxDB 2.x writes need the organisation", EnvTargetOrg))
	}
	if len(problems) > 0 {
		return t, true, errors.New(strings.Join(problems, "; "))
	}
	return t, true, nil
}

// OpenTarget returns the InfluxDB a storage test runs against: the target
// named by the environment (STOREPULSE_TARGET_*) when it is set, checked to
// be reachable, otherwise a fresh local InfluxDB 1.8 (Start). A named target
// that is incomplete or unreachable fails the test: it never skips.
func OpenTarget(t testing.TB) Target {
	t.Helper()
	tg, named, err := TargetFromEnv(os.Getenv)
	if err != nil {
		t.Fatalf("influxtest: the target named by %s: %v", EnvTargetURL, err)
	}
	if !named {
		s := Start(t)
		return Target{URL: s.URL, Token: s.Token, Org: s.Org, Database: s.Bucket, Version: Version18, Local: true, Server: s}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := tg.Check(ctx); err != nil {
		t.Fatalf("influxtest: the target %s (InfluxDB %s) is not usable: %v", tg.URL, tg.Version, err)
	}
	t.Logf("influxtest: running against %s (InfluxDB %s, database %q)", tg.URL, tg.Version, tg.Database)
	return tg
}

// Check asks the target's /ping (with the token: 3.x may require it) and
// reports an error unless it answers 2xx. The error never holds the token.
func (tg Target) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.URL+"/ping", nil)
	if err != nil {
		return fmt.Errorf("ping request: %w", err)
	}
	if tg.Token != "" {
		req.Header.Set("Authorization", "Token "+tg.Token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("GET /ping: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(body))
		if tg.Token != "" {
			msg = strings.ReplaceAll(msg, tg.Token, "[REDACTED]")
		}
		return fmt.Errorf("GET /ping answered %s: %s", resp.Status, msg)
	}
	return nil
}
