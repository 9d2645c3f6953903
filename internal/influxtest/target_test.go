package influxtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTargetFromEnv(t *testing.T) {
	full := map[string]string{EnvTargetURL: "http://influx3:8181/", EnvTargetToken: "apiv3_secret",
		EnvTargetDatabase: "storepulse", EnvTargetVersion: "3.x"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		named   bool
		wantErr string
	}{
		{"not named: the local 1.8", map[string]string{EnvTargetToken: "x"}, false, ""},
		{"3.x", full, true, ""},
		{"1.8 db/rp", with(EnvTargetVersion, "1.8", EnvTargetDatabase, "storepulse/autogen"), true, ""},
		{"2.x with org", with(EnvTargetVersion, "2.x", EnvTargetOrg, "acme"), true, ""},
		{"2.x without org", with(EnvTargetVersion, "2.x"), true, "STOREPULSE_TARGET_ORG is not set"},
		{"3.x database with /", with(EnvTargetDatabase, "storepulse/autogen"), true, "without /"},
		{"no version", with(EnvTargetVersion, ""), true, "STOREPULSE_TARGET_VERSION is not set"},
		{"unknown version", with(EnvTargetVersion, "4"), true, `is "4"`},
		{"no database", with(EnvTargetDatabase, ""), true, "STOREPULSE_TARGET_DATABASE is not set"},
		{"not a URL", with(EnvTargetURL, "influx3:8181"), true, "must be http(s)://host[:port]"},
		{"credentials in the URL", with(EnvTargetURL, "http://u:apiv3_secret@influx3:8181"), true, "must not carry credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, named, err := TargetFromEnv(func(k string) string { return tt.env[k] })
			require.Equal(t, tt.named, named)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "apiv3_secret")
			}
			if named && err == nil {
				require.Equal(t, "http://influx3:8181", tg.URL)
				require.Equal(t, tt.env[EnvTargetDatabase], tg.Database)
				require.False(t, tg.Local)
			}
		})
	}
}

func TestTargetCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" || r.Header.Get("Authorization") != "Token good" {
			http.Error(w, `{"error":"unauthorized access, token good expected"}`, http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, url, token, wantErr string
	}{
		{"answers", srv.URL, "good", ""},
		{"wrong token", srv.URL, "bad", "401 Unauthorized"},
		{"nothing listens", closed, "good", "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Target{URL: tt.url, Token: tt.token}.Check(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// recordTB records Fatalf and Skipf instead of stopping the test (what
// OpenTarget calls on a named target).
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper()                   {}
func (r *recordTB) Logf(string, ...any)       {}
func (r *recordTB) Fatalf(f string, a ...any) { r.fatal += fmt.Sprintf(f, a...) }
func (r *recordTB) Skipf(f string, a ...any)  { r.skip += fmt.Sprintf(f, a...) }

// A named target that is unreachable fails the test, with or without CI:
// an opted-in run never skips.
func TestOpenTargetFailsWhenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv("CI", "")
	t.Setenv(EnvTargetURL, "http://"+addr)
	t.Setenv(EnvTargetToken, "apiv3_secret")
	t.Setenv(EnvTargetDatabase, "storepulse")
	t.Setenv(EnvTargetVersion, "3.x")
	r := &recordTB{TB: t}
	OpenTarget(r)
	require.Empty(t, r.skip)
	require.Contains(t, r.fatal, "is not usable")
	require.Contains(t, r.fatal, addr)
	require.NotContains(t, r.fatal, "apiv3_secret")

	t.Setenv(EnvTargetVersion, "")
	r = &recordTB{TB: t}
	OpenTarget(r)
	require.Empty(t, r.skip)
	require.Contains(t, r.fatal, "STOREPULSE_TARGET_VERSION is not set")
}
