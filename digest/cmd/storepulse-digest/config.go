package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/storepulse/storepulse/digest/locale"
	"github.com/storepulse/storepulse/digest/render"
	"github.com/storepulse/storepulse/internal/redact"
	"github.com/storepulse/storepulse/internal/storezone"
)

// EnvPrefix starts every environment variable of the command.
const EnvPrefix = "STOREPULSE_DIGEST_"

// config is the command's configuration: a YAML file (--config), then
// STOREPULSE_DIGEST_* variables, then flags, in increasing precedence.
type config struct {
	Influx struct {
		URL    string `yaml:"url"`
		Token  string `yaml:"token"`
		Bucket string `yaml:"bucket"`
		// Timeout bounds every InfluxDB call.
		Timeout time.Duration `yaml:"timeout"`
	} `yaml:"influx"`
	Timezone      string        `yaml:"timezone"`
	Business      string        `yaml:"business"`
	Currency      string        `yaml:"currency"`
	Language      string        `yaml:"language"`
	GrafanaURL    string        `yaml:"grafana_url"`
	Playbook      string        `yaml:"playbook"`
	Sensitivity   float64       `yaml:"sensitivity"`
	IngestDataDir string        `yaml:"ingest_data_dir"`
	Headline      []string      `yaml:"headline"`
	Watch         []string      `yaml:"watch"`
	Timeout       time.Duration `yaml:"timeout"` // the whole run
	SeriesLimit   int           `yaml:"series_limit"`

	// Delivery (serve mode).
	SMTP struct {
		Host     string        `yaml:"host"`
		Port     int           `yaml:"port"`
		Username string        `yaml:"username"`
		Password string        `yaml:"password"`
		From     string        `yaml:"from"`
		Insecure bool          `yaml:"insecure"`
		Timeout  time.Duration `yaml:"timeout"`
	} `yaml:"smtp"`
	Webhook struct {
		Timeout  time.Duration `yaml:"timeout"`
		Attempts int           `yaml:"attempts"`
		Backoff  time.Duration `yaml:"backoff"`
	} `yaml:"webhook"`
	FailedDir string `yaml:"failed_dir"`
	// StateDir keeps the delivery state (missed runs are caught up once).
	StateDir string `yaml:"state_dir"`
	// CatchUp is how old a missed scheduled run may be to be caught up.
	CatchUp time.Duration `yaml:"catch_up"`
	Lists   []listConfig  `yaml:"lists"`

	// Per run (flags or environment).
	Date   string `yaml:"date"`
	Store  string `yaml:"store"`
	Format string `yaml:"format"`
	Out    string `yaml:"out"`

	// override is timezone when set: it wins over the zone the ingest
	// recorded (zone.go).
	override *time.Location
	formats  []string // Format split at commas
}

// listConfig is a recipient list.
type listConfig struct {
	Name     string   `yaml:"name"`
	Schedule string   `yaml:"schedule"`
	Store    string   `yaml:"store"`
	Language string   `yaml:"language"` // en or zh-CN; empty: the top-level language
	Email    []string `yaml:"email"`
	Dir      string   `yaml:"dir"`
	Webhooks []struct {
		URL    string `yaml:"url"`
		Format string `yaml:"format"`
	} `yaml:"webhooks"`
}

func defaults() config {
	var c config
	c.Influx.Bucket = "storepulse/autogen"
	c.Influx.Timeout = 2 * time.Minute
	c.Business = "StorePulse"
	c.Currency = "CNY"
	c.Sensitivity = 3
	c.Timeout = 10 * time.Minute
	c.SeriesLimit = 500
	c.Format = render.FormatMarkdown
	c.Out = "-"
	c.SMTP.Port = 587
	c.SMTP.Timeout = 30 * time.Second
	c.Webhook.Timeout = 10 * time.Second
	c.Webhook.Attempts = 3
	c.Webhook.Backoff = 10 * time.Second
	c.CatchUp = 24 * time.Hour
	return c
}

// setting binds one key to its flag and environment variable.
type setting struct {
	key, flag, usage string
	set              func(c *config, v string) error
}

func str(dst func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *dst(c) = v; return nil }
}

func settings() []setting {
	dur := func(dst func(*config) *time.Duration) func(*config, string) error {
		return func(c *config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			*dst(c) = d
			return nil
		}
	}
	list := func(dst func(*config) *[]string) func(*config, string) error {
		return func(c *config, v string) error {
			var out []string
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
			*dst(c) = out
			return nil
		}
	}
	return []setting{
		{"influx.url", "influx-url", "InfluxDB URL (required)", str(func(c *config) *string { return &c.Influx.URL })},
		{"influx.token", "", "InfluxDB token (environment or file only: never a flag)", str(func(c *config) *string { return &c.Influx.Token })},
		{"influx.bucket", "influx-bucket", "bucket (db/rp on InfluxDB 1.8)", str(func(c *config) *string { return &c.Influx.Bucket })},
		{"influx.timeout", "influx-timeout", "timeout of every InfluxDB call", dur(func(c *config) *time.Duration { return &c.Influx.Timeout })},
		{"timezone", "timezone", "store time zone, overriding the one storepulse-ingest recorded (default: the recorded one, else Asia/Shanghai)", str(func(c *config) *string { return &c.Timezone })},
		{"business", "business", "business name in the briefing", str(func(c *config) *string { return &c.Business })},
		{"currency", "currency", "currency code of amounts", str(func(c *config) *string { return &c.Currency })},
		{"language", "language", "language of the briefing: en or zh-CN (numbers and currency follow it)", str(func(c *config) *string { return &c.Language })},
		{"grafana_url", "grafana-url", "Grafana base URL of the drill-down links", str(func(c *config) *string { return &c.GrafanaURL })},
		{"playbook", "playbook", "playbook YAML over the default one", str(func(c *config) *string { return &c.Playbook })},
		{"sensitivity", "sensitivity", "band width in spreads (low 4, medium 3, high 2)", func(c *config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			c.Sensitivity = f
			return err
		}},
		{"ingest_data_dir", "ingest-data-dir", "the ingest's data_dir, to count dead-lettered and quarantined input", str(func(c *config) *string { return &c.IngestDataDir })},
		{"headline", "headline", "comma-separated headline KPIs (default: the wall screen's)", list(func(c *config) *[]string { return &c.Headline })},
		{"watch", "watch", "comma-separated KPIs watched for changes besides the headline", list(func(c *config) *[]string { return &c.Watch })},
		{"timeout", "timeout", "timeout of the whole run", dur(func(c *config) *time.Duration { return &c.Timeout })},
		{"series_limit", "series-limit", "most series one engine query may return", func(c *config, v string) error {
			n, err := strconv.Atoi(v)
			c.SeriesLimit = n
			return err
		}},
		{"date", "date", "local date to brief, YYYY-MM-DD (default: yesterday in the store time zone)", str(func(c *config) *string { return &c.Date })},
		{"store", "store", "brief one store instead of the whole business", str(func(c *config) *string { return &c.Store })},
		{"format", "format", "output formats, comma-separated: " + strings.Join(render.Formats(), ", "), str(func(c *config) *string { return &c.Format })},
		{"out", "out", "output file, or directory for several formats (- for standard output)", str(func(c *config) *string { return &c.Out })},
		{"smtp.password", "", "SMTP password (environment or file only)", str(func(c *config) *string { return &c.SMTP.Password })},
		{"failed_dir", "failed-dir", "serve: directory keeping the payloads of failed deliveries", str(func(c *config) *string { return &c.FailedDir })},
		{"state_dir", "state-dir", "serve: directory keeping the delivery state (missed runs are caught up once)", str(func(c *config) *string { return &c.StateDir })},
		{"catch_up", "catch-up", "serve: how old a missed scheduled run may be to be delivered at start (0: never)", dur(func(c *config) *time.Duration { return &c.CatchUp })},
	}
}

func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// loadConfig reads the file, the environment and the flags, and checks the
// result once.
func loadConfig(args []string, stderr io.Writer, getenv func(string) string) (*config, error) {
	fs := pflag.NewFlagSet("storepulse-digest", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "YAML configuration file")
	vals := map[string]*string{}
	for _, s := range settings() {
		if s.flag != "" {
			vals[s.flag] = fs.String(s.flag, "", s.usage+" (env "+envName(s.key)+")")
		}
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: storepulse-digest [flags]: writes the morning briefing (docs/briefing.md)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c := defaults()
	if *file != "" {
		raw, err := os.ReadFile(*file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", *file, err)
		}
	}
	for _, s := range settings() {
		if v := getenv(envName(s.key)); v != "" {
			if err := s.set(&c, v); err != nil {
				return nil, fmt.Errorf("config: %s: %w", envName(s.key), err)
			}
		}
		if s.flag != "" && fs.Changed(s.flag) {
			if err := s.set(&c, *vals[s.flag]); err != nil {
				return nil, fmt.Errorf("config: --%s: %w", s.flag, err)
			}
		}
	}
	return &c, c.check()
}

// check validates the configuration once, at start.
func (c *config) check() error {
	u, err := url.Parse(c.Influx.URL)
	switch {
	case c.Influx.URL == "":
		return errors.New("config: influx.url is required (--influx-url or " + envName("influx.url") + ")")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("config: influx.url %q is not an http(s) URL", redact.URL(c.Influx.URL))
	case c.Influx.Bucket == "":
		return errors.New("config: influx.bucket is required")
	case c.Influx.Timeout <= 0 || c.Timeout <= 0:
		return errors.New("config: influx.timeout and timeout must be positive")
	case c.Sensitivity <= 0 || c.Sensitivity > 100:
		return fmt.Errorf("config: sensitivity %v must be in (0, 100]", c.Sensitivity)
	case c.SeriesLimit < 1:
		return errors.New("config: series_limit must be at least 1")
	case c.Currency == "":
		return errors.New("config: currency is required")
	}
	if _, err := locale.Parse(c.Language); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	c.formats = nil
	for _, f := range strings.Split(c.Format, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(render.Formats(), f) {
			return fmt.Errorf("config: format %q is not one of %s", f, strings.Join(render.Formats(), ", "))
		}
		if !slices.Contains(c.formats, f) {
			c.formats = append(c.formats, f)
		}
	}
	if len(c.formats) > 1 && c.Out != "-" {
		if st, err := os.Stat(c.Out); err != nil || !st.IsDir() {
			return fmt.Errorf("config: several formats (%s) need --out to be an existing directory, got %q", c.Format, c.Out)
		}
	}
	if c.GrafanaURL != "" {
		g, err := url.Parse(c.GrafanaURL)
		if err != nil || (g.Scheme != "http" && g.Scheme != "https") || g.Host == "" {
			return fmt.Errorf("config: grafana_url %q is not an http(s) URL", c.GrafanaURL)
		}
	}
	if c.Date != "" {
		if _, err := time.Parse(time.DateOnly, c.Date); err != nil {
			return fmt.Errorf("config: date %q is not YYYY-MM-DD", c.Date)
		}
	}
	c.override = nil
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return fmt.Errorf("config: timezone: %w", err)
		}
		if err := storezone.Check(loc); err != nil {
			return fmt.Errorf("config: timezone: %w", err)
		}
		c.override = loc
	}
	return nil
}
