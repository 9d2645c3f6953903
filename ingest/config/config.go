// Package config loads and checks the ingest service's configuration once at
// start-up: a YAML file, STOREPULSE_* environment variables and command-line
// flags, in that order of increasing precedence (defaults lowest). Every
// problem is reported with the option's name.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/redact"
	"github.com/storepulse/storepulse/internal/storezone"
)

// Config is the ingest service's whole configuration.
type Config struct {
	Listen   string `mapstructure:"listen"`
	TLS      TLS    `mapstructure:"tls"`
	DataDir  string `mapstructure:"data_dir"`
	Ingester string `mapstructure:"ingester"`
	TimeZone string `mapstructure:"timezone"`
	Influx   Influx `mapstructure:"influx"`
	Spool    Spool  `mapstructure:"spool"`
	Dedup    Dedup  `mapstructure:"dedup"`
	Limits   Limits `mapstructure:"limits"`
	Auth     Auth   `mapstructure:"auth"`
	Log      Log    `mapstructure:"log"`
	// LineProtocol configures InfluxDB's write endpoints (/write, /api/v2/write).
	LineProtocol LineProtocol `mapstructure:"lineprotocol"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none);
	// the GOMEMLIMIT environment variable, when set, takes precedence. It
	// must stay above the flusher's working set (sketch cache, hourly sums,
	// two segments' rollups): below it the garbage collector runs without
	// pause. A quarter of it bounds the request bodies in flight.
	MemoryLimit int64 `mapstructure:"memory_limit"`
	// PprofListen, when set, serves net/http/pprof there (keep it on loopback).
	PprofListen string         `mapstructure:"pprof_listen"`
	Location    *time.Location `mapstructure:"-"`
}

// TLS enables HTTPS when both files are set.
type TLS struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Influx is where rolled-up points go.
type Influx struct {
	URL        string        `mapstructure:"url"`
	Token      string        `mapstructure:"token"`
	Org        string        `mapstructure:"org"`
	Bucket     string        `mapstructure:"bucket"`
	Timeout    time.Duration `mapstructure:"timeout"`
	BatchLines int           `mapstructure:"batch_lines"`
	// Concurrency is how many write requests are in flight at once.
	Concurrency int           `mapstructure:"concurrency"`
	MinBackoff  time.Duration `mapstructure:"min_backoff"`
	MaxBackoff  time.Duration `mapstructure:"max_backoff"`
	// UnsignedFields accepts unsigned integer (1u) line-protocol fields.
	// Off by default: InfluxDB 1.8 refuses them; turn it on only for an
	// InfluxDB that takes them (2.x).
	UnsignedFields bool `mapstructure:"unsigned_fields"`
	// QueryLanguage is how the service reads InfluxDB back (stored sketches,
	// the campaign calendar): QueryInfluxQL (default) or QueryFlux.
	QueryLanguage string `mapstructure:"query_language"`
	// FineBucket is where the minute series go ("" : Bucket). Give it a
	// retention (a 1.8 retention policy "db/rp", a 2.x bucket, a 3.x
	// database) to keep only the recent minutes; the consolidated hourly and
	// daily series stay in Bucket.
	FineBucket string `mapstructure:"fine_bucket"`
	// FineRetention is FineBucket's retention (0: the minute series never
	// expire). Hours older than it are never consolidated again.
	FineRetention time.Duration `mapstructure:"fine_retention"`
	// ConsolidateGrace is how long after an hour's end its minute series
	// are consolidated into the hourly series (later events re-consolidate).
	ConsolidateGrace time.Duration `mapstructure:"consolidate_grace"`
	// ConsolidateMemory is how many hourly sums the consolidation keeps in
	// memory instead of reading minute points back (0: none).
	ConsolidateMemory int `mapstructure:"consolidate_memory"`
}

// LineProtocol configures the InfluxDB-compatible write endpoints.
type LineProtocol struct {
	// Databases lists the database (/write?db=) and bucket
	// (/api/v2/write?bucket=) names the endpoints accept; a write naming
	// another gets InfluxDB's 404 (database or bucket not found) and nothing
	// of it is stored. Empty (the default) accepts any name. Whatever the
	// name, points go to influx.bucket.
	Databases []string `mapstructure:"databases"`
}

// Query languages of influx.query_language.
const (
	// QueryInfluxQL reads through the v1 /query API: InfluxDB 1.8, 2.x (DBRP
	// mappings) and 3.x.
	QueryInfluxQL = "influxql"
	// QueryFlux reads with Flux: InfluxDB 1.8 (flux-enabled) and 2.x.
	QueryFlux = "flux"
)

// Spool is the on-disk write-ahead spool.
type Spool struct {
	MaxBytes        int64         `mapstructure:"max_bytes"`
	SegmentMaxBytes int64         `mapstructure:"segment_max_bytes"`
	SealInterval    time.Duration `mapstructure:"seal_interval"`
	SketchInterval  time.Duration `mapstructure:"sketch_interval"`
	// SketchCache is how many distinct-count sketches stay in memory
	// between segments (LRU); one that left is read back from InfluxDB
	// before it is merged again.
	SketchCache int           `mapstructure:"sketch_cache"`
	RetryAfter  time.Duration `mapstructure:"retry_after"`
	// ReserveBytes is the drain reserve kept allocated in the spool
	// directory so that a full disk can still drain: 0 means
	// segment_max_bytes/2 (a segment's de-duplication ids take under a third
	// of it), a negative value disables it.
	ReserveBytes int64 `mapstructure:"reserve_bytes"`
}

// Dedup is the event-id de-duplication window.
type Dedup struct {
	Window time.Duration `mapstructure:"window"`
}

// Limits bound what one request may carry.
type Limits struct {
	MaxBodyBytes         int64         `mapstructure:"max_body_bytes"`
	MaxDecompressedBytes int64         `mapstructure:"max_decompressed_bytes"`
	MaxItems             int           `mapstructure:"max_items"`
	MaxErrors            int           `mapstructure:"max_errors"`
	LateHorizon          time.Duration `mapstructure:"late_horizon"`
	// HistoryHorizon is how old the times of a history import
	// (history=true, admin tokens only) may be.
	HistoryHorizon  time.Duration `mapstructure:"history_horizon"`
	FutureTolerance time.Duration `mapstructure:"future_tolerance"`
	RequestTimeout  time.Duration `mapstructure:"request_timeout"`
}

// Auth lists the accepted bearer tokens, stored as SHA-256 hashes.
type Auth struct {
	Tokens []Token `mapstructure:"tokens"`
}

// Token is one source's credential. Stores, when not empty, limits what the
// token may write to those stores. Admin tokens may also import history
// (history=true: times back to limits.history_horizon).
type Token struct {
	Name   string   `mapstructure:"name"`
	SHA256 string   `mapstructure:"sha256"`
	Stores []string `mapstructure:"stores"`
	Admin  bool     `mapstructure:"admin"`
}

// Log configures the structured logger.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// EnvPrefix prefixes every environment variable: STOREPULSE_INFLUX_URL sets influx.url.
const EnvPrefix = "STOREPULSE"

// EnvTokens is a comma-separated list of name=sha256hex pairs, an
// environment-friendly way to set auth.tokens (all stores allowed).
const EnvTokens = "STOREPULSE_AUTH_TOKENS" // #nosec G101 -- a variable name, not a credential

// EnvAdminTokens is EnvTokens for admin tokens (auth.tokens[].admin: true).
const EnvAdminTokens = "STOREPULSE_AUTH_ADMIN_TOKENS" // #nosec G101 -- a variable name, not a credential

// DefaultHistoryHorizon is limits.history_horizon's default: three years.
const DefaultHistoryHorizon = 3 * 365 * 24 * time.Hour

// maxHistoryHorizon bounds limits.history_horizon: twenty years.
const maxHistoryHorizon = 20 * 365 * 24 * time.Hour

// maxSketchCache bounds spool.sketch_cache: a dense sketch takes about 16 KB.
const maxSketchCache = 1 << 22

// maxConsolidateMemory bounds influx.consolidate_memory (about 100 bytes each).
const maxConsolidateMemory = 50_000_000

func setDefaults(v *viper.Viper) {
	v.SetDefault("listen", ":8080")
	// Every key needs a default: viper only maps environment variables to keys it knows.
	v.SetDefault("tls.cert_file", "")
	v.SetDefault("tls.key_file", "")
	v.SetDefault("pprof_listen", "")
	v.SetDefault("memory_limit", int64(512)<<20)
	v.SetDefault("data_dir", "./data")
	v.SetDefault("ingester", "")
	v.SetDefault("timezone", "Asia/Shanghai")
	v.SetDefault("influx.url", "http://localhost:8086")
	v.SetDefault("influx.token", "")
	v.SetDefault("influx.org", "storepulse")
	v.SetDefault("influx.bucket", "storepulse")
	v.SetDefault("influx.timeout", 10*time.Second)
	v.SetDefault("influx.batch_lines", 5000)
	v.SetDefault("influx.concurrency", 4)
	v.SetDefault("influx.unsigned_fields", false)
	v.SetDefault("influx.min_backoff", 100*time.Millisecond)
	v.SetDefault("influx.max_backoff", 30*time.Second)
	v.SetDefault("influx.query_language", QueryInfluxQL)
	v.SetDefault("influx.fine_bucket", "")
	v.SetDefault("influx.fine_retention", time.Duration(0))
	v.SetDefault("influx.consolidate_grace", 10*time.Minute)
	v.SetDefault("influx.consolidate_memory", 500_000)
	v.SetDefault("spool.max_bytes", int64(1)<<30)
	v.SetDefault("spool.segment_max_bytes", int64(16)<<20)
	v.SetDefault("spool.seal_interval", 5*time.Second)
	v.SetDefault("spool.sketch_interval", 30*time.Second)
	v.SetDefault("spool.sketch_cache", 1<<16)
	v.SetDefault("spool.retry_after", 5*time.Second)
	v.SetDefault("spool.reserve_bytes", int64(0))
	v.SetDefault("dedup.window", 48*time.Hour)
	v.SetDefault("limits.max_body_bytes", int64(32)<<20)
	v.SetDefault("limits.max_decompressed_bytes", int64(128)<<20)
	v.SetDefault("limits.max_items", 10000)
	v.SetDefault("limits.max_errors", 100)
	v.SetDefault("limits.late_horizon", 168*time.Hour)
	v.SetDefault("limits.history_horizon", DefaultHistoryHorizon)
	v.SetDefault("limits.future_tolerance", 5*time.Minute)
	v.SetDefault("limits.request_timeout", 30*time.Second)
	v.SetDefault("lineprotocol.databases", []string{})
	v.SetDefault("log.level", "info")
	v.SetDefault("log.format", "json")
}

// Flags registers the command-line flags that override the file and the
// environment. Each flag is named after its option with dots as dashes.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "path of the YAML configuration file")
	fs.String("listen", "", "listen address (listen)")
	fs.String("data-dir", "", "directory of the spool and de-duplication files (data_dir)")
	fs.String("ingester", "", "stable id of this ingest instance (ingester)")
	fs.String("influx-url", "", "InfluxDB URL (influx.url)")
	fs.String("influx-org", "", "InfluxDB organisation (influx.org)")
	fs.String("influx-bucket", "", "InfluxDB bucket (influx.bucket)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
}

var flagKeys = map[string]string{
	"listen": "listen", "data-dir": "data_dir", "ingester": "ingester", "influx-url": "influx.url",
	"influx-org": "influx.org", "influx-bucket": "influx.bucket", "log-level": "log.level",
}

// Load reads the configuration from the file named by the --config flag (if
// any), the environment and the flags, then checks it.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	v := viper.New()
	setDefaults(v)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if fs != nil {
		for name, key := range flagKeys {
			if f := fs.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, fmt.Errorf("config: flag --%s: %w", name, err)
				}
			}
		}
		if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
			v.SetConfigFile(f.Value.String())
			if err := v.ReadInConfig(); err != nil {
				return nil, fmt.Errorf("config: read %s: %w", f.Value.String(), err)
			}
		}
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for _, name := range []string{EnvTokens, EnvAdminTokens} {
		if env := getenv(name); env != "" {
			toks, err := parseEnvTokens(name, env)
			if err != nil {
				return nil, err
			}
			c.Auth.Tokens = append(c.Auth.Tokens, toks...)
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func parseEnvTokens(variable, s string) ([]Token, error) {
	var out []Token
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, hash, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("config: %s: entry %q must be name=sha256hex", variable, part)
		}
		out = append(out, Token{Name: name, SHA256: hash, Admin: variable == EnvAdminTokens})
	}
	return out, nil
}

// check validates every option once and names the first wrong one.
func (c *Config) check() error {
	var errs []error
	bad := func(opt, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", opt, fmt.Sprintf(format, args...)))
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < 64<<20 {
		bad("memory_limit", "must be 0 (none) or at least 64 MiB, got %d", c.MemoryLimit)
	}
	if c.Listen == "" {
		bad("listen", "must be an address such as :8080")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file must be set together")
	}
	if c.DataDir == "" {
		bad("data_dir", "must be a directory path")
	}
	loc, err := time.LoadLocation(c.TimeZone)
	switch {
	case c.TimeZone == "" || c.TimeZone == "Local":
		bad("timezone", "must be an IANA time zone name such as Asia/Shanghai, got %q", c.TimeZone)
	case err != nil:
		bad("timezone", "unknown time zone %q", c.TimeZone)
	default:
		if zerr := storezone.Check(loc); zerr != nil {
			bad("timezone", "%v", zerr)
		}
	}
	c.Location = loc
	if u, err := url.Parse(c.Influx.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("influx.url", "must be an http(s) URL, got %q", RedactURL(c.Influx.URL))
	}
	if c.Influx.Bucket == "" {
		bad("influx.bucket", "must not be empty")
	}
	if c.Influx.Timeout <= 0 {
		bad("influx.timeout", "must be positive")
	}
	switch c.Influx.QueryLanguage {
	case QueryInfluxQL:
		if _, _, err := influxql.SplitBucket(c.Influx.Bucket); err != nil && c.Influx.Bucket != "" {
			bad("influx.bucket", "%v", err)
		}
	case QueryFlux:
	default:
		bad("influx.query_language", "must be %s or %s, got %q", QueryInfluxQL, QueryFlux, c.Influx.QueryLanguage)
	}
	if c.Influx.FineBucket != "" {
		if _, _, err := influxql.SplitBucket(c.Influx.FineBucket); err != nil {
			bad("influx.fine_bucket", "%v", err)
		}
	}
	switch {
	case c.Influx.FineRetention < 0:
		bad("influx.fine_retention", "must not be negative")
	case c.Influx.FineRetention > 0 && c.Influx.FineBucket == "":
		bad("influx.fine_retention", "is the retention of influx.fine_bucket, which is not set (the main bucket must keep everything)")
	case c.Influx.FineRetention > 0 && c.Influx.FineRetention < c.Limits.LateHorizon+24*time.Hour:
		bad("influx.fine_retention", "must be at least limits.late_horizon + 24h (%s): a late event's minutes must still be there to consolidate its hour again",
			c.Limits.LateHorizon+24*time.Hour)
	}
	if c.Influx.ConsolidateMemory < 0 || c.Influx.ConsolidateMemory > maxConsolidateMemory {
		bad("influx.consolidate_memory", "must be 0 to %d hourly sums, got %d", maxConsolidateMemory, c.Influx.ConsolidateMemory)
	}
	if c.Influx.ConsolidateGrace < time.Minute || c.Influx.ConsolidateGrace > 24*time.Hour {
		bad("influx.consolidate_grace", "must be between 1m and 24h, got %s", c.Influx.ConsolidateGrace)
	}
	if c.Influx.BatchLines < 1 || c.Influx.BatchLines > 100000 {
		bad("influx.batch_lines", "must be between 1 and 100000, got %d", c.Influx.BatchLines)
	}
	if c.Influx.Concurrency < 1 || c.Influx.Concurrency > 64 {
		bad("influx.concurrency", "must be between 1 and 64, got %d", c.Influx.Concurrency)
	}
	if c.Influx.MinBackoff <= 0 || c.Influx.MaxBackoff < c.Influx.MinBackoff {
		bad("influx.min_backoff", "must be positive and not above influx.max_backoff")
	}
	if c.Spool.SegmentMaxBytes < 1<<16 {
		bad("spool.segment_max_bytes", "must be at least 64 KiB")
	}
	if c.Spool.MaxBytes < c.Spool.SegmentMaxBytes {
		bad("spool.max_bytes", "must be at least spool.segment_max_bytes")
	}
	if c.Spool.SealInterval < 100*time.Millisecond {
		bad("spool.seal_interval", "must be at least 100ms")
	}
	if c.Spool.SketchInterval < 100*time.Millisecond {
		bad("spool.sketch_interval", "must be at least 100ms")
	}
	if c.Spool.SketchCache < 1 || c.Spool.SketchCache > maxSketchCache {
		bad("spool.sketch_cache", "must be 1 to %d sketches, got %d", maxSketchCache, c.Spool.SketchCache)
	}
	if c.Spool.RetryAfter < time.Second {
		bad("spool.retry_after", "must be at least 1s")
	}
	if c.Dedup.Window < time.Minute {
		bad("dedup.window", "must be at least 1m")
	}
	if c.Limits.MaxBodyBytes < 1024 {
		bad("limits.max_body_bytes", "must be at least 1024")
	}
	if c.Limits.MaxDecompressedBytes < c.Limits.MaxBodyBytes {
		bad("limits.max_decompressed_bytes", "must be at least limits.max_body_bytes")
	}
	if c.Limits.MaxItems < 1 {
		bad("limits.max_items", "must be positive")
	}
	if c.Limits.MaxErrors < 1 {
		bad("limits.max_errors", "must be positive")
	}
	if c.Limits.LateHorizon < time.Hour {
		bad("limits.late_horizon", "must be at least 1h")
	}
	if fr := c.Influx.FineRetention; fr > 0 && c.Limits.HistoryHorizon > fr-24*time.Hour {
		// History older than the minute series' retention would be written
		// as minutes that the fine bucket refuses or drops before their hour
		// is consolidated; writing it straight into the hourly and daily
		// series is not implemented.
		bad("limits.history_horizon", "must be at most influx.fine_retention - 24h (%s) when influx.fine_retention is set, got %s: "+
			"history older than the minute series' retention cannot be imported", fr-24*time.Hour, c.Limits.HistoryHorizon)
	}
	if c.Limits.HistoryHorizon < c.Limits.LateHorizon || c.Limits.HistoryHorizon > maxHistoryHorizon {
		bad("limits.history_horizon", "must be at least limits.late_horizon (%s) and at most %s (20 years), got %s",
			c.Limits.LateHorizon, maxHistoryHorizon, c.Limits.HistoryHorizon)
	}
	if c.Limits.FutureTolerance < 0 {
		bad("limits.future_tolerance", "must not be negative")
	}
	if c.Limits.RequestTimeout < time.Second {
		bad("limits.request_timeout", "must be at least 1s")
	}
	if len(c.Auth.Tokens) == 0 {
		bad("auth.tokens", "at least one token is required (tokens are stored as SHA-256: `storepulse-ingest hash-token`)")
	}
	seen := map[string]bool{}
	for i, t := range c.Auth.Tokens {
		opt := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			bad(opt+".name", "must not be empty")
		}
		if seen[t.Name] {
			bad(opt+".name", "duplicate token name %q", t.Name)
		}
		seen[t.Name] = true
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			bad(opt+".sha256", "must be 64 hex digits (the SHA-256 of the token), not the token itself")
		}
	}
	seenDB := map[string]bool{}
	for i, name := range c.LineProtocol.Databases {
		opt := fmt.Sprintf("lineprotocol.databases[%d]", i)
		switch {
		case strings.TrimSpace(name) == "":
			bad(opt, "must not be empty")
		case seenDB[name]:
			bad(opt, "duplicate database %q", name)
		}
		seenDB[name] = true
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// RedactURL returns u fit for a log or an error message (package redact).
func RedactURL(u string) string { return redact.URL(u) }
