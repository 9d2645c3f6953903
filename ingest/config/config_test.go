package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/config"
)

const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func load(t *testing.T, yaml string, env map[string]string, args ...string) (*config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs)
	if yaml != "" {
		p := filepath.Join(t.TempDir(), "c.yaml")
		require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
		args = append(args, "--config", p)
	}
	require.NoError(t, fs.Parse(args))
	for k, v := range env {
		t.Setenv(k, v)
	}
	return config.Load(fs, func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	yaml := "listen: ':9000'\ninflux:\n  url: http://file:8086\n  bucket: from-file\nauth:\n  tokens:\n    - name: a\n      sha256: " + hash + "\n"
	c, err := load(t, yaml, map[string]string{"STOREPULSE_INFLUX_URL": "http://env:8086", "STOREPULSE_INFLUX_BUCKET": "from-env"}, "--influx-bucket", "from-flag")
	require.NoError(t, err)
	require.Equal(t, ":9000", c.Listen)                // file over default
	require.Equal(t, "http://env:8086", c.Influx.URL)  // env over file
	require.Equal(t, "from-flag", c.Influx.Bucket)     // flag over env
	require.Equal(t, 10*time.Second, c.Influx.Timeout) // default
	require.Equal(t, "Asia/Shanghai", c.Location.String())
}

func TestEnvTokens(t *testing.T) {
	c, err := load(t, "", map[string]string{config.EnvTokens: "demo=" + hash + ", sim=" + hash})
	require.NoError(t, err)
	require.Len(t, c.Auth.Tokens, 2)
	require.Equal(t, "sim", c.Auth.Tokens[1].Name)
	require.False(t, c.Auth.Tokens[0].Admin)

	c, err = load(t, "", map[string]string{config.EnvTokens: "feed=" + hash, config.EnvAdminTokens: "ops=" + hash})
	require.NoError(t, err)
	require.Equal(t, []config.Token{{Name: "feed", SHA256: hash}, {Name: "ops", SHA256: hash, Admin: true}}, c.Auth.Tokens)
	_, err = load(t, "", map[string]string{config.EnvAdminTokens: "ops"})
	require.ErrorContains(t, err, `config: STOREPULSE_AUTH_ADMIN_TOKENS: entry "ops" must be name=sha256hex`)
}

// TestHistoryHorizon: three years by default, from the file or the
// environment, checked against late_horizon and a 20-year cap.
func TestHistoryHorizon(t *testing.T) {
	tok := "auth:\n  tokens:\n    - name: a\n      sha256: " + hash + "\n      admin: true\n"
	c, err := load(t, tok, nil)
	require.NoError(t, err)
	require.Equal(t, 26280*time.Hour, c.Limits.HistoryHorizon)
	require.True(t, c.Auth.Tokens[0].Admin)
	c, err = load(t, tok+"limits:\n  history_horizon: 17520h\n", nil)
	require.NoError(t, err)
	require.Equal(t, 17520*time.Hour, c.Limits.HistoryHorizon)
	c, err = load(t, tok, map[string]string{"STOREPULSE_LIMITS_HISTORY_HORIZON": "8760h"})
	require.NoError(t, err)
	require.Equal(t, 8760*time.Hour, c.Limits.HistoryHorizon)
}

// TestLineProtocolDatabases: lineprotocol.databases from the file or, comma
// separated, from the environment; empty by default (any name accepted).
func TestLineProtocolDatabases(t *testing.T) {
	tok := "auth:\n  tokens:\n    - name: a\n      sha256: " + hash + "\n"
	c, err := load(t, tok, nil)
	require.NoError(t, err)
	require.Empty(t, c.LineProtocol.Databases)
	c, err = load(t, tok+"lineprotocol:\n  databases: [telegraf, ops]\n", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"telegraf", "ops"}, c.LineProtocol.Databases)
	c, err = load(t, tok, map[string]string{"STOREPULSE_LINEPROTOCOL_DATABASES": "telegraf,ops"})
	require.NoError(t, err)
	require.Equal(t, []string{"telegraf", "ops"}, c.LineProtocol.Databases)
}

func TestInvalid(t *testing.T) {
	tok := "auth:\n  tokens:\n    - name: a\n      sha256: " + hash + "\n"
	cases := []struct{ yaml, want string }{
		{"", "auth.tokens: at least one token is required"},
		{"auth:\n  tokens:\n    - name: a\n      sha256: plaintext\n", "auth.tokens[0].sha256: must be 64 hex digits"},
		{tok + "timezone: Mars/Olympus\n", "timezone: unknown time zone"},
		{tok + "timezone: Asia/Kolkata\n", "timezone: time zone Asia/Kolkata is UTC+05:30 (IST) from 2000-01-01: its local days do not start on a whole UTC hour; StorePulse keeps hourly series"},
		{tok + "timezone: Asia/Kathmandu\n", "timezone: time zone Asia/Kathmandu is UTC+05:45"},
		{tok + "timezone: Australia/Adelaide\n", "timezone: time zone Australia/Adelaide is UTC+10:30"},
		{tok + "influx:\n  url: localhost:8086\n", "influx.url: must be an http(s) URL"},
		{tok + "influx:\n  batch_lines: 0\n", "influx.batch_lines"},
		{tok + "influx:\n  query_language: sql\n", `influx.query_language: must be influxql or flux, got "sql"`},
		{tok + "influx:\n  bucket: /autogen\n", "influx.bucket: bucket \"/autogen\" names no database"},
		{tok + "influx:\n  fine_bucket: a/b/c\n", "influx.fine_bucket: bucket \"a/b/c\" has more than one /"},
		{tok + "influx:\n  fine_retention: 720h\n", "influx.fine_retention: is the retention of influx.fine_bucket, which is not set"},
		{tok + "influx:\n  fine_bucket: storepulse/recent\n  fine_retention: 170h\n", "influx.fine_retention: must be at least limits.late_horizon + 24h (192h0m0s)"},
		{tok + "influx:\n  fine_bucket: storepulse/recent\n  fine_retention: 720h\n", "limits.history_horizon: must be at most influx.fine_retention - 24h (696h0m0s) when influx.fine_retention is set, got 26280h0m0s"},
		{tok + "influx:\n  consolidate_grace: 10s\n", "influx.consolidate_grace: must be between 1m and 24h, got 10s"},
		{tok + "spool:\n  max_bytes: 10\n", "spool.max_bytes"},
		{tok + "spool:\n  sketch_cache: 0\n", "spool.sketch_cache: must be 1 to 4194304 sketches"},
		{tok + "influx:\n  consolidate_memory: -1\n", "influx.consolidate_memory: must be 0 to 50000000 hourly sums, got -1"},
		{tok + "limits:\n  late_horizon: 1m\n", "limits.late_horizon"},
		{tok + "limits:\n  late_horizon: 2400h\n  history_horizon: 720h\n", "limits.history_horizon: must be at least limits.late_horizon (2400h0m0s) and at most 175200h0m0s (20 years), got 720h0m0s"},
		{tok + "limits:\n  history_horizon: 200000h\n", "limits.history_horizon: must be at least"},
		{tok + "lineprotocol:\n  databases: [telegraf, \"\"]\n", "lineprotocol.databases[1]: must not be empty"},
		{tok + "lineprotocol:\n  databases: [telegraf, telegraf]\n", `lineprotocol.databases[1]: duplicate database "telegraf"`},
		{tok + "log:\n  level: loud\n", "log.level"},
		{tok + "tls:\n  cert_file: a.pem\n", "tls: cert_file and key_file"},
		{tok + "unknown_option: 1\n", "unknown_option"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := load(t, tc.yaml, nil)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tc.want), err.Error())
		})
	}
}

// The documented example must stay a valid configuration.
func TestExampleConfigLoads(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs)
	require.NoError(t, fs.Parse([]string{"--config", "../../docs/storepulse-ingest.example.yaml"}))
	c, err := config.Load(fs, func(string) string { return "" })
	require.NoError(t, err)
	require.Len(t, c.Auth.Tokens, 2)
	require.Equal(t, []string{"tmall-flagship"}, c.Auth.Tokens[1].Stores)
	require.Equal(t, 48*time.Hour, c.Dedup.Window)
	require.Equal(t, 1<<16, c.Spool.SketchCache)
	require.Equal(t, 500_000, c.Influx.ConsolidateMemory)
}

// TestRedactURL: a password or query in influx.url never reaches a log or an
// error message.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://influx:8086":                       "http://influx:8086",
		"http://admin:s3cret@influx:8086/":         "http://admin:xxxxx@influx:8086/",
		"https://influx:8086/?u=admin&p=s3cret":    "https://influx:8086/?redacted",
		"http://admin:s3cret@influx:8086/?token=x": "http://admin:xxxxx@influx:8086/?redacted",
		"http://a b:s3cret@%zz":                    "(unparsable URL)",
	} {
		require.Equal(t, want, config.RedactURL(in), in)
	}
	_, err := load(t, "influx:\n  url: ftp://admin:s3cret@influx:8086\nauth:\n  tokens:\n    - name: a\n      sha256: "+hash+"\n", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "influx.url")
	require.NotContains(t, err.Error(), "s3cret")
}
