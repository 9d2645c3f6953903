package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/holidays"
)

// InfluxDB versions (they matter to Flux only: InfluxQL reads every version
// the same way).
const (
	InfluxV18 = "1.8" // InfluxDB 1.8 with Flux (v2 compatibility API); bucket is "db/rp"
	InfluxV2  = "2.x"
	InfluxV3  = "3.x" // InfluxQL only: InfluxDB 3 has no Flux
)

// Query languages the datasource reads InfluxDB with.
const (
	// QueryInfluxQL (the default) reads through the v1 /query API: InfluxDB
	// 1.8, 2.x (v1 compatibility API, DBRP mappings) and 3.x.
	QueryInfluxQL = "influxql"
	// QueryFlux reads with Flux: InfluxDB 1.8 (flux-enabled) and 2.x only.
	QueryFlux = "flux"
)

// Defaults of the settings.
const (
	DefaultTimeZone    = "Asia/Shanghai"
	DefaultCurrency    = "CNY"
	DefaultSeriesLimit = 500
	DefaultBucket      = "storepulse/autogen"
	// DefaultDatabase3 is the default bucket on InfluxDB 3.x: a database
	// name, which has no retention policy part.
	DefaultDatabase3 = "storepulse"
	DefaultCacheTTL  = 10 * time.Second
	// DefaultRequestMemoryMB bounds the estimated memory of one request's
	// queries, DefaultDatasourceMemoryMB that of all one datasource's
	// requests running at once. (The whole plugin process has its own
	// budget, set in Grafana's configuration: package plugin.)
	DefaultRequestMemoryMB    = 256
	DefaultDatasourceMemoryMB = 1024
)

// SecureKeyToken is the secureJsonData key of the InfluxDB token (on 1.8:
// "user:password", or any value without authentication).
const SecureKeyToken = "token"

// Settings are the datasource's jsonData plus its decrypted token.
type Settings struct {
	URL         string `json:"url"` // from the datasource's URL field when empty here
	Version     string `json:"version"`
	Org         string `json:"org"`
	Bucket      string `json:"bucket"`
	TimeZone    string `json:"timeZone"`
	Currency    string `json:"currency"`
	SeriesLimit int    `json:"seriesLimit"`
	// QueryLanguage is QueryInfluxQL (default) or QueryFlux.
	QueryLanguage string `json:"queryLanguage"`
	// CacheTTLText is how long identical reads are served from memory, a Go
	// duration ("10s" default; "0s" turns the cache off).
	CacheTTLText string `json:"cacheTTL"`
	// RequestMemoryMB bounds the estimated working memory of one request's
	// queries together; DatasourceMemoryMB that of all the datasource's
	// requests running at once (docs/query.md, "Memory limits").
	RequestMemoryMB    int `json:"requestMemoryMB"`
	DatasourceMemoryMB int `json:"datasourceMemoryMB"`

	// HolidayMarkets are the markets whose public holidays the anomaly
	// detection treats as planned days by default (codes of
	// internal/holidays: cn, us, de, fr, es, it, nl, sg, my, th, id, vn, ph);
	// a query's anomaly.holidays overrides them. HolidayLists override or add
	// lists: market code → CSV text "date,name" (docs/query.md#holidays).
	HolidayMarkets []string          `json:"holidayMarkets"`
	HolidayLists   map[string]string `json:"holidayLists"`

	CacheTTL time.Duration `json:"-"`
	// Holidays are the shipped holiday lists with HolidayLists applied.
	Holidays *holidays.Set `json:"-"`

	Token    string         `json:"-"`
	Location *time.Location `json:"-"`
	// TimeZoneSet is true when the datasource names a time zone itself.
	// The store time zone is the one storepulse-ingest records in InfluxDB;
	// TimeZone (default DefaultTimeZone) is only used while none is recorded,
	// and Save & test refuses a set one that differs (docs/query.md).
	TimeZoneSet bool `json:"-"`
}

// LoadSettings parses jsonData and applies defaults; dsURL is the
// datasource's own URL field.
func LoadSettings(dsURL string, jsonData []byte, secure map[string]string) (Settings, error) {
	var s Settings
	if len(jsonData) > 0 {
		if err := json.Unmarshal(jsonData, &s); err != nil {
			return s, fmt.Errorf("invalid datasource settings JSON: %w", err)
		}
	}
	if s.URL == "" {
		s.URL = dsURL
	}
	if s.URL == "" {
		return s, errors.New("the InfluxDB URL is not set")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, fmt.Errorf("the InfluxDB URL %q is not an http(s) URL", s.URL)
	}
	switch s.Version {
	case "":
		s.Version = InfluxV2
	case InfluxV18, InfluxV2, InfluxV3:
	default:
		return s, fmt.Errorf("unknown InfluxDB version %q (1.8, 2.x or 3.x)", s.Version)
	}
	switch s.QueryLanguage {
	case "":
		s.QueryLanguage = QueryInfluxQL
	case QueryInfluxQL, QueryFlux:
	default:
		return s, fmt.Errorf("unknown query language %q (influxql or flux)", s.QueryLanguage)
	}
	if s.QueryLanguage == QueryFlux && s.Version == InfluxV3 {
		return s, errors.New("InfluxDB 3.x has no Flux: use the query language influxql")
	}
	switch {
	case s.Bucket == "" && s.Version == InfluxV3:
		s.Bucket = DefaultDatabase3
	case s.Bucket == "":
		s.Bucket = DefaultBucket
	case s.Version == InfluxV3 && strings.Contains(s.Bucket, "/"):
		// InfluxDB 3 keeps a / in a database name only to emulate 1.x's
		// database/retention-policy pairs; StorePulse names a 3.x database
		// plainly (docs/influxdb3.md, "Database naming").
		return s, fmt.Errorf("on InfluxDB 3.x the bucket is the database's name, without / (got %q): e.g. %q", s.Bucket, strings.SplitN(s.Bucket, "/", 2)[0])
	}
	s.TimeZoneSet = s.TimeZone != ""
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	if s.Location, err = time.LoadLocation(s.TimeZone); err != nil {
		return s, fmt.Errorf("unknown store time zone %q: %w", s.TimeZone, err)
	}
	if s.Currency == "" {
		s.Currency = DefaultCurrency
	}
	if s.SeriesLimit <= 0 {
		s.SeriesLimit = DefaultSeriesLimit
	}
	if s.RequestMemoryMB <= 0 {
		s.RequestMemoryMB = DefaultRequestMemoryMB
	}
	if s.DatasourceMemoryMB <= 0 {
		s.DatasourceMemoryMB = DefaultDatasourceMemoryMB
	}
	if s.RequestMemoryMB > s.DatasourceMemoryMB {
		return s, fmt.Errorf("requestMemoryMB %d is above datasourceMemoryMB %d: a request could never use it all", s.RequestMemoryMB, s.DatasourceMemoryMB)
	}
	s.CacheTTL = DefaultCacheTTL
	if s.CacheTTLText != "" {
		if s.CacheTTL, err = time.ParseDuration(s.CacheTTLText); err != nil || s.CacheTTL < 0 {
			return s, fmt.Errorf("cacheTTL %q is not a duration like 10s (0s turns the cache off)", s.CacheTTLText)
		}
	}
	if s.Holidays, err = holidays.Load(s.HolidayLists); err != nil {
		return s, fmt.Errorf("holidayLists: %w", err)
	}
	if err := s.Holidays.Check(s.HolidayMarkets); err != nil {
		return s, fmt.Errorf("holidayMarkets: %w", err)
	}
	s.Token = secure[SecureKeyToken]
	return s, nil
}

// RequestMemoryBytes is RequestMemoryMB in bytes (its default when unset).
func (s Settings) RequestMemoryBytes() int64 {
	if s.RequestMemoryMB <= 0 {
		return DefaultRequestMemoryMB << 20
	}
	return int64(s.RequestMemoryMB) << 20
}

// DatasourceMemoryBytes is DatasourceMemoryMB in bytes (its default when unset).
func (s Settings) DatasourceMemoryBytes() int64 {
	if s.DatasourceMemoryMB <= 0 {
		return DefaultDatasourceMemoryMB << 20
	}
	return int64(s.DatasourceMemoryMB) << 20
}
