// Package briefing assembles the morning briefing of a business (or of one
// store) for one local day of the store time zone: the headline KPIs at a
// glance, what changed beyond its normal range and why, what to do about it
// (from a playbook kept as data), the campaign rhythm and the data quality.
//
// Every number comes from the KPI engine of the datasource
// (datasource/pkg/engine) and the KPI catalog (internal/kpi): the briefing
// defines no KPI of its own. See docs/briefing.md.
package briefing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/digest/locale"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// Tones colour a number by the KPI's direction.
const (
	ToneGood    = "good"
	ToneBad     = "bad"
	ToneNeutral = "neutral"
)

// Briefing is one morning's briefing.
type Briefing struct {
	Business string `json:"business"`
	Store    string `json:"store,omitempty"` // empty: the whole business
	Date     string `json:"date"`            // the local day briefed, YYYY-MM-DD
	Weekday  string `json:"weekday"`
	// Language of the texts: en or zh-CN (digest/locale).
	Language    string    `json:"language"`
	TimeZone    string    `json:"timeZone"`
	Currency    string    `json:"currency"`
	GeneratedAt time.Time `json:"generatedAt"`
	// Sensitivity is k: a change is beyond its normal range past k spreads.
	Sensitivity float64    `json:"sensitivity"`
	Glance      []Headline `json:"glance"`
	// Changes are ranked by business impact, largest first; empty means
	// nothing unusual.
	Changes        []Change `json:"changes"`
	NothingUnusual bool     `json:"nothingUnusual"`
	Rhythm         Rhythm   `json:"rhythm"`
	Quality        Quality  `json:"quality"`
	Link           string   `json:"link"` // the wall screen
}

// Period is a KPI over a period against its target.
type Period struct {
	Label      string   `json:"label"` // e.g. "week to date"
	From       string   `json:"from"`
	To         string   `json:"to"` // inclusive local dates
	Value      *float64 `json:"value"`
	Target     *float64 `json:"target,omitempty"`
	Attainment *float64 `json:"attainment,omitempty"` // value / target
	Tone       string   `json:"tone"`
}

// MonthForecast is the expected end-of-month value against the month's target.
type MonthForecast struct {
	Value  *float64 `json:"value"`
	Lower  *float64 `json:"lower,omitempty"`
	Upper  *float64 `json:"upper,omitempty"`
	Target *float64 `json:"target,omitempty"`
	// TargetSource says where the month's target comes from: "month" (a
	// stored month target) or "days" (the sum of the month's daily targets).
	TargetSource string   `json:"targetSource,omitempty"`
	Attainment   *float64 `json:"attainment,omitempty"`
	Tone         string   `json:"tone"`
}

// Headline is one headline KPI of the day.
type Headline struct {
	KPI       string   `json:"kpi"`
	Name      string   `json:"name"`
	Unit      string   `json:"unit"`
	Direction string   `json:"direction"`
	Value     *float64 `json:"value"`
	// LastWeek is the same weekday a week earlier; Change (value − last
	// week) / |last week|, a fraction.
	LastWeek    *float64       `json:"lastWeek"`
	Change      *float64       `json:"change"`
	ChangeTone  string         `json:"changeTone"`
	Target      *float64       `json:"target,omitempty"`
	Attainment  *float64       `json:"attainment,omitempty"`
	TargetTone  string         `json:"targetTone"`
	WeekToDate  Period         `json:"weekToDate"`
	MonthToDate Period         `json:"monthToDate"`
	Forecast    *MonthForecast `json:"monthForecast,omitempty"`
	// Spark is the KPI per day over the SparkDays days ending on the day.
	Spark []*float64 `json:"spark"`
	Link  string     `json:"link"`
}

// SparkDays is the length of the headline sparklines.
const SparkDays = 14

// Impact is a change's effect on the business, signed so that a loss is
// negative: in the KPI's numerator unit (currency, orders, people, seconds),
// and in currency where it converts (orders at the day's AOV, people at its
// ARPU), which ranks the changes.
type Impact struct {
	Value    float64  `json:"value"`
	Unit     string   `json:"unit"` // currency, orders, people, sessions, seconds, count
	Currency *float64 `json:"currency,omitempty"`
}

// HourRun is a run of flagged hours of the engine's hourly anomaly band.
type HourRun struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Value    float64   `json:"value"` // the peak hour's
	Expected float64   `json:"expected"`
	Score    float64   `json:"score"`
}

// DayForecast is the engine's forecast of the day, made at its start.
type DayForecast struct {
	Value float64  `json:"value"`
	Lower *float64 `json:"lower,omitempty"`
	Upper *float64 `json:"upper,omitempty"`
	// Z is the forecast error in spreads: (actual − forecast) over the 80 %
	// band's half-width / 1.2816; null without a band.
	Z *float64 `json:"z,omitempty"`
}

// Change is a KPI beyond its normal range.
type Change struct {
	Rank  int    `json:"rank"`
	KPI   string `json:"kpi"`
	Name  string `json:"name"`
	Unit  string `json:"unit"`
	Store string `json:"store,omitempty"` // the scope: empty for the whole business (or the briefed store)
	// Category is the category of a store's category series (a KPI checked
	// per category, Options.ByCategory); empty otherwise.
	Category  string  `json:"category,omitempty"`
	Direction string  `json:"direction"` // up or down
	Tone      string  `json:"tone"`      // bad or good by the KPI's direction
	Value     float64 `json:"value"`
	Expected  float64 `json:"expected"`
	Lower     float64 `json:"lower"`
	Upper     float64 `json:"upper"`
	// Score is the day's deviation in spreads (engine.Score); DayFlag says
	// the day is beyond ±k; Hours are the hourly band's flagged runs.
	Score    float64      `json:"score"`
	DayFlag  bool         `json:"dayFlag"`
	Hours    []HourRun    `json:"hours,omitempty"`
	Forecast *DayForecast `json:"forecast,omitempty"`
	Impact   Impact       `json:"impact"`
	Reasons  []Reason     `json:"reasons"`
	Actions  []Action     `json:"actions"`
	Link     string       `json:"link"`
}

// Reason kinds.
const (
	ReasonDimension = "dimension" // the value of a dimension that explains the change
	ReasonFunnel    = "funnel"    // the funnel step that moved
	ReasonCampaign  = "campaign"  // a campaign phase started, ended or runs
	ReasonSilent    = "store_silent"
	ReasonRefunds   = "refund_reason"
	ReasonPrice     = "price_index"
	ReasonService   = "first_response"
)

// Reason is one explanation of a change, with its numbers.
type Reason struct {
	Kind      string `json:"kind"`
	Dimension string `json:"dimension,omitempty"`
	Value     string `json:"value,omitempty"`
	// Effect is "mix" or "rate" for a ratio's dimension reason: which of
	// the two explains most of the value's contribution.
	Effect  string             `json:"effect,omitempty"`
	Text    string             `json:"text"`
	Numbers map[string]float64 `json:"numbers,omitempty"`
	Link    string             `json:"link,omitempty"`
}

// Action is one playbook suggestion.
type Action struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Owner  string `json:"owner"`
}

// Rhythm is the campaign calendar ahead and the running campaigns' uplift.
type Rhythm struct {
	From      string         `json:"from"`
	To        string         `json:"to"` // the window of upcoming phases (inclusive local dates)
	Campaigns []CampaignPlan `json:"campaigns"`
	Uplift    []Uplift       `json:"uplift"`
}

// CampaignPlan is a campaign with a phase in the window.
type CampaignPlan struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Kind   string      `json:"kind"`
	Phases []PhasePlan `json:"phases"`
	Link   string      `json:"link"`
}

// PhasePlan is one phase and where the briefing's day stands.
type PhasePlan struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// State is "upcoming", "running" or "ended"; Days is days until the
	// start (upcoming) or left to the end (running), in local days.
	State string `json:"state"`
	Days  int    `json:"days"`
	Text  string `json:"text"`
}

// Uplift is a running campaign's GMV against its baseline.
type Uplift struct {
	Campaign string   `json:"campaign"`
	Name     string   `json:"name"`
	Day      *float64 `json:"day"`      // the day's GMV
	Baseline *float64 `json:"baseline"` // GMV per day before the campaign
	// DayUplift is day / baseline − 1; ToDate the engine's uplift over the
	// campaign's days so far.
	DayUplift *float64 `json:"dayUplift"`
	ToDate    *float64 `json:"toDate"`
	Link      string   `json:"link"`
}

// Quality is what the briefing knows about its input.
type Quality struct {
	// Silent are stores with data in the week before but none on the day.
	Silent []StoreGap `json:"silent"`
	// Stale are stores whose newest data is older than the stale age at the
	// time of the briefing.
	Stale []StoreAge `json:"stale"`
	// Late are the stores whose late data changed days before the briefed
	// one, having reached InfluxDB from the briefed day's start up to the
	// briefing; LateChecked says they were looked for.
	Late        []LateStore `json:"late"`
	LateChecked bool        `json:"lateChecked"`
	// Rejected is the ingest's dead-letter and quarantine directories, when
	// configured and readable.
	Rejected *Rejected `json:"rejected,omitempty"`
	// NotChecked names what the briefing could not look at.
	NotChecked []string `json:"notChecked,omitempty"`
}

// StoreGap is a store that sent nothing for a while on the day.
type StoreGap struct {
	Store string    `json:"store"`
	Hours int       `json:"hours"` // hours of the day without events (24: all day)
	From  time.Time `json:"from"`
	To    time.Time `json:"to"` // the longest gap
	Link  string    `json:"link"`
}

// StoreAge is how old a store's newest data is.
type StoreAge struct {
	Store  string    `json:"store"`
	Newest time.Time `json:"newest"`
	Age    float64   `json:"ageSeconds"`
	Link   string    `json:"link"`
}

// Rejected summarises the ingest's rejected input.
type Rejected struct {
	DeadLetterFiles int   `json:"deadLetterFiles"`
	DeadLetterBytes int64 `json:"deadLetterBytes"`
	QuarantineFiles int   `json:"quarantineFiles"`
	QuarantineBytes int64 `json:"quarantineBytes"`
	// NewOnDay counts the files of both written on the day.
	NewOnDay int `json:"newOnDay"`
}

// Options configure a Builder. Engine, Location, Now and Playbook are required.
type Options struct {
	Engine   *engine.Engine
	Location *time.Location
	Now      func() time.Time
	Playbook *Playbook
	Logger   *slog.Logger
	// Business names the business in the briefing; Currency is its ISO code.
	Business, Currency string
	// GrafanaURL is the base of the drill-down links (e.g.
	// https://grafana.example.com); empty gives relative links.
	GrafanaURL string
	// Headline are the glance's KPIs (default: the wall screen's).
	Headline []string
	// Watch are the KPIs checked for changes besides the headline ones and
	// the playbook's (default WatchKPIs).
	Watch []string
	// K is the band width in spreads (default 3, the engine's "medium").
	K float64
	// StaleAfter is the data age that makes a store stale (default 1h).
	StaleAfter time.Duration
	// IngestDataDir is the ingest's data_dir (its deadletter/ and
	// quarantine/ are read); empty: not checked.
	IngestDataDir string
	// Language of the texts and number formats: en (default) or zh-CN
	// (digest/locale). Build uses it; BuildIn takes one per call.
	Language string
	// MaxChanges caps the changes listed (default 8).
	MaxChanges int
	// ByCategory are the watched KPIs also checked per category of each
	// store that stayed in its range (default CategoryKPIs); a KPI without
	// the category dimension is an error.
	ByCategory []string
}

// WallKPIs are the wall screen's big numbers (dashboards/wall.go), the
// default headline.
func WallKPIs() []string {
	return []string{"gmv", "paid_revenue", "orders", "new_users", "conversion_rate", "aov", "active_users", "refund_rate", "consultation_conversion"}
}

// WatchKPIs are checked for changes besides the headline: they show the
// incidents StorePulse knows (payments, checkout, traffic, service).
func WatchKPIs() []string {
	return []string{"payment_conversion", "order_conversion_rate", "sessions", "first_response_time", "refund_amount", "price_index"}
}

// CategoryKPIs are checked per category of each store as well: a price
// error hits one category of one store, which the store's price index over
// all its categories hardly shows.
func CategoryKPIs() []string { return []string{"price_index"} }

// Builder assembles briefings. Safe for concurrent use.
type Builder struct {
	o     Options
	parts *engine.Engine // the engine over the catalog's operands (parts.go)
	kpis  []kpi.KPI      // headline
	watch []kpi.KPI      // every KPI checked for changes
	lang  locale.Locale
}

// New checks the options once.
func New(o Options) (*Builder, error) {
	switch {
	case o.Engine == nil || o.Engine.Catalog == nil || o.Engine.Source == nil:
		return nil, errors.New("briefing: an engine with a catalog and a source is required")
	case o.Location == nil:
		return nil, errors.New("briefing: the store time zone is required")
	case o.Now == nil:
		return nil, errors.New("briefing: a clock is required")
	case o.Playbook == nil:
		return nil, errors.New("briefing: a playbook is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.Headline) == 0 {
		o.Headline = WallKPIs()
	}
	if len(o.Watch) == 0 {
		o.Watch = WatchKPIs()
	}
	if o.K == 0 {
		o.K = models.AnomalyDefaultK
	}
	if o.K < 0 || o.K > 100 {
		return nil, fmt.Errorf("briefing: sensitivity %v must be in (0, 100]", o.K)
	}
	if o.StaleAfter == 0 {
		o.StaleAfter = time.Hour
	}
	if o.MaxChanges == 0 {
		o.MaxChanges = 8
	}
	if o.ByCategory == nil {
		o.ByCategory = CategoryKPIs()
	}
	if o.Currency == "" {
		o.Currency = "CNY"
	}
	if o.Business == "" {
		o.Business = "StorePulse"
	}
	lang, err := locale.Parse(o.Language)
	if err != nil {
		return nil, fmt.Errorf("briefing: %w", err)
	}
	b := &Builder{o: o, lang: lang}
	for _, id := range o.Headline {
		k, ok := o.Engine.Catalog.Get(id)
		if !ok || k.Kind == kpi.KindTransform {
			return nil, fmt.Errorf("briefing: headline KPI %q is not a KPI of the catalog", id)
		}
		b.kpis = append(b.kpis, k)
	}
	seen := map[string]bool{}
	for _, id := range slices.Concat(o.Headline, o.Watch) {
		if seen[id] {
			continue
		}
		seen[id] = true
		k, ok := o.Engine.Catalog.Get(id)
		if !ok {
			return nil, fmt.Errorf("briefing: KPI %q to watch is not in the catalog", id)
		}
		if !watchable(k) {
			continue
		}
		b.watch = append(b.watch, k)
	}
	for _, id := range o.ByCategory {
		k, ok := o.Engine.Catalog.Get(id)
		if !ok || !slices.Contains(k.Dimensions(), schema.TagCategory) {
			return nil, fmt.Errorf("briefing: KPI %q to check per category is not a KPI of the catalog with the category dimension", id)
		}
	}
	parts, err := partsEngine(o.Engine)
	if err != nil {
		return nil, err
	}
	b.parts = parts
	return b, nil
}

// watchable KPIs have a daily value with a weekly pattern.
func watchable(k kpi.KPI) bool {
	return k.Kind == kpi.KindSum || k.Kind == kpi.KindRatio || k.Kind == kpi.KindDistinct
}

// Yesterday is the local date before now's in loc.
func Yesterday(now time.Time, loc *time.Location) string {
	d := localday.AddDays(localday.Floor(now, loc), -1, loc)
	return d.In(loc).Format(time.DateOnly)
}

// day is the briefed local day.
type day struct {
	date       string
	start, end time.Time // [start, end) of the local day
	loc        *time.Location
}

func (d day) addDays(n int) time.Time { return localday.AddDays(d.start, n, d.loc) }

// Build assembles the briefing of date (YYYY-MM-DD; empty: yesterday by the
// clock) for the whole business, or for one store.
func (b *Builder) Build(ctx context.Context, date, store string) (*Briefing, error) {
	return b.build(ctx, date, store, b.lang)
}

// BuildIn is Build in a language (en or zh-CN; empty: the Options'), for
// recipient lists that read another language than the default.
func (b *Builder) BuildIn(ctx context.Context, date, store, language string) (*Briefing, error) {
	lang := b.lang
	if language != "" {
		l, err := locale.Parse(language)
		if err != nil {
			return nil, fmt.Errorf("briefing: %w", err)
		}
		lang = l
	}
	return b.build(ctx, date, store, lang)
}

// resolveDay is the local day a briefing of date (YYYY-MM-DD; empty:
// yesterday by the clock) covers, which must have ended.
func (b *Builder) resolveDay(date string) (day, time.Time, error) {
	loc := b.o.Location
	now := b.o.Now()
	if date == "" {
		date = Yesterday(now, loc)
	}
	t, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return day{}, now, fmt.Errorf("briefing: date %q is not YYYY-MM-DD: %w", date, err)
	}
	start := localday.Start(t.Year(), t.Month(), t.Day(), loc)
	d := day{date: date, start: start, end: localday.Next(start, loc), loc: loc}
	if d.end.After(now) {
		return day{}, now, fmt.Errorf("briefing: %s has not ended yet in %s (now %s): brief a past day", date, loc, now.In(loc).Format(time.DateTime))
	}
	return d, now, nil
}

func (b *Builder) build(ctx context.Context, date, store string, lang locale.Locale) (*Briefing, error) {
	d, now, err := b.resolveDay(date)
	if err != nil {
		return nil, err
	}
	loc, start := d.loc, d.start
	date = d.date
	br := &Briefing{Business: b.o.Business, Store: store, Date: date, Weekday: lang.Weekday(start.In(loc).Weekday()), Language: lang.Tag(),
		TimeZone: loc.String(), Currency: b.o.Currency, GeneratedAt: now.UTC(), Sensitivity: b.o.K,
		Link: b.link("/d/storepulse-wall", nil, d.start, d.end)}
	scope := scope{store: store}
	camps, err := b.o.Engine.Source.Campaigns(ctx)
	if err != nil {
		return nil, fmt.Errorf("briefing: campaigns: %w", err)
	}
	st := &state{tr: lang, d: d, scope: scope, camps: camps, values: map[string]*float64{}}
	if br.Glance, err = b.glance(ctx, st); err != nil {
		return nil, err
	}
	if br.Changes, err = b.changes(ctx, st); err != nil {
		return nil, err
	}
	br.NothingUnusual = len(br.Changes) == 0
	if br.Rhythm, err = b.rhythm(ctx, st); err != nil {
		return nil, err
	}
	if br.Quality, err = b.quality(ctx, st); err != nil {
		return nil, err
	}
	return br, nil
}

// scope is the briefing's store filter.
type scope struct{ store string }

func (s scope) filters() map[string][]string {
	if s.store == "" {
		return nil
	}
	return map[string][]string{"store": {s.store}}
}

// state is one build's shared inputs.
type state struct {
	tr    locale.Locale // the language of the texts
	d     day
	scope scope
	camps []calendarCampaign
	// day values of the headline, for AOV and ARPU conversions
	aov, arpu *float64
	values    map[string]*float64 // the headline's values of the day
	gapsDone  bool
	gaps      []StoreGap
	gapsErr   error
}

// run normalises q as the plugin does (models.ParseQuery) and runs it.
func run(ctx context.Context, e *engine.Engine, q models.Query, from, to time.Time) (*engine.Result, error) {
	q, err := normalise(q)
	if err != nil {
		return nil, err
	}
	res, err := e.Run(ctx, engine.Request{Query: q, From: from, To: to})
	if err != nil {
		return nil, fmt.Errorf("briefing: %s: %w", q.KPI, err)
	}
	return res, nil
}

func normalise(q models.Query) (models.Query, error) {
	raw, err := json.Marshal(q)
	if err != nil {
		return q, fmt.Errorf("briefing: query: %w", err)
	}
	out, err := models.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("briefing: query %s: %w", q.KPI, err)
	}
	return out, nil
}

func ptr(f float64) *float64 { return &f }

// localName is a KPI's name in the language (the catalog's NameZH for zh-CN).
func localName(tr locale.Locale, k kpi.KPI) string {
	if tr.Zh() && k.NameZH != "" {
		return k.NameZH
	}
	return k.Name
}
