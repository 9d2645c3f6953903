// Package calendar is the shared model of the campaign calendar and KPI
// targets: how they look in the ingest API, how they are checked, and how they
// are stored in InfluxDB (measurements schema.MeasCampaign and
// schema.MeasTarget). The ingest service writes them; the datasource reads them.
package calendar

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// Phase names of a campaign.
const (
	PhaseWarmUp     = "warm-up"
	PhasePreSale    = "pre-sale"
	PhasePeak       = "peak"
	PhaseAfterSales = "after-sales"
	PhaseActivity   = "activity"
)

// Campaign is one promotion on the calendar.
type Campaign struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`             // e.g. 618, 99, double11, weekly
	Stores []string `json:"stores,omitempty"` // empty: every store
	Phases []Phase  `json:"phases"`
}

// Phase is a stretch of a campaign.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Start is the campaign's first phase start, the time its point is stored at.
func (c *Campaign) Start() time.Time {
	var s time.Time
	for i, p := range c.Phases {
		if i == 0 || p.Start.Before(s) {
			s = p.Start
		}
	}
	return s
}

// End is the campaign's last phase end.
func (c *Campaign) End() time.Time {
	var e time.Time
	for _, p := range c.Phases {
		if p.End.After(e) {
			e = p.End
		}
	}
	return e
}

// Target periods.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// AllStores is the store value of a target for the whole business.
const AllStores = "all"

// Target is a KPI's goal for one period.
type Target struct {
	KPI    string  `json:"kpi"`
	Store  string  `json:"store"`  // a store, or "all"
	Period string  `json:"period"` // day | week | month
	Start  string  `json:"start"`  // YYYY-MM-DD in the store time zone: the period's first day
	Value  float64 `json:"value"`
}

// StartTime is the period's start in loc: the first instant of the local
// date (localday; 01:00 where midnight does not exist), the instant the
// datasource's buckets start at. A week starts on Monday.
func (t *Target) StartTime(loc *time.Location) (time.Time, error) {
	d, err := time.Parse("2006-01-02", t.Start)
	if err != nil {
		return time.Time{}, fmt.Errorf("start: must be a date YYYY-MM-DD, got %q", t.Start)
	}
	return localday.Start(d.Year(), d.Month(), d.Day(), loc), nil
}

// Documented limits of the calendar (docs/api.md). Times outside
// [MinTime, MaxTime) are refused: the store lists and deletes within a
// fixed range, and InfluxDB cannot store points near year 1 or 9999.
const (
	MaxPhases          = 16    // phases per campaign
	MaxCampaignStores  = 200   // stores listed by one campaign
	MaxCampaignsPerPut = 1000  // campaigns in one PUT
	MaxTargetsPerPut   = 10000 // targets in one PUT
)

// Campaign phases and target starts lie in [MinTime(), MaxTime()).
const (
	minTimeUnix = 946684800  // 2000-01-01T00:00:00Z
	maxTimeUnix = 4102444800 // 2100-01-01T00:00:00Z
)

// MinTime is the earliest phase time or target start accepted.
func MinTime() time.Time { return time.Unix(minTimeUnix, 0).UTC() }

// MaxTime is the first phase time or target start refused.
func MaxTime() time.Time { return time.Unix(maxTimeUnix, 0).UTC() }

func checkTime(field string, t time.Time) error {
	if t.Before(MinTime()) || !t.Before(MaxTime()) {
		return fmt.Errorf("%s: must be from %s until before %s, got %s", field,
			MinTime().Format("2006-01-02"), MaxTime().Format("2006-01-02"), t.Format(time.RFC3339))
	}
	return nil
}

// ValidateID checks only the campaign's id (e.g. one named in a path).
func (c *Campaign) ValidateID() error { return checkName("id", c.ID) }

// Validate checks a campaign and names the first problem's field.
func (c *Campaign) Validate() error {
	if err := c.ValidateID(); err != nil {
		return err
	}
	if c.Name == "" || len(c.Name) > 256 || !utf8.ValidString(c.Name) {
		return errors.New("name: must be 1 to 256 bytes of UTF-8")
	}
	if err := checkName("kind", c.Kind); err != nil {
		return err
	}
	if len(c.Stores) > MaxCampaignStores {
		return fmt.Errorf("stores: at most %d stores (leave it empty for every store), got %d", MaxCampaignStores, len(c.Stores))
	}
	seen := make(map[string]bool, len(c.Stores))
	for i, s := range c.Stores {
		if err := checkName(fmt.Sprintf("stores[%d]", i), s); err != nil {
			return err
		}
		if seen[s] {
			return fmt.Errorf("stores[%d]: %q is listed twice", i, s)
		}
		seen[s] = true
	}
	if len(c.Phases) == 0 {
		return errors.New("phases: at least one phase is required")
	}
	if len(c.Phases) > MaxPhases {
		return fmt.Errorf("phases: at most %d phases, got %d", MaxPhases, len(c.Phases))
	}
	for i, p := range c.Phases {
		switch p.Name {
		case PhaseWarmUp, PhasePreSale, PhasePeak, PhaseAfterSales, PhaseActivity:
		default:
			return fmt.Errorf("phases[%d].name: must be warm-up, pre-sale, peak, after-sales or activity, got %q", i, p.Name)
		}
		if p.Start.IsZero() || p.End.IsZero() {
			return fmt.Errorf("phases[%d]: start and end are required (RFC 3339)", i)
		}
		if err := checkTime(fmt.Sprintf("phases[%d].start", i), p.Start); err != nil {
			return err
		}
		if err := checkTime(fmt.Sprintf("phases[%d].end", i), p.End); err != nil {
			return err
		}
		if !p.End.After(p.Start) {
			return fmt.Errorf("phases[%d]: end must be after start", i)
		}
	}
	return nil
}

// Validate checks a target and names the first problem's field.
func (t *Target) Validate(loc *time.Location) error {
	if err := checkName("kpi", t.KPI); err != nil {
		return err
	}
	if err := checkName("store", t.Store); err != nil {
		return err
	}
	switch t.Period {
	case PeriodDay, PeriodWeek, PeriodMonth:
	default:
		return fmt.Errorf("period: must be day, week or month, got %q", t.Period)
	}
	start, err := t.StartTime(loc)
	if err != nil {
		return err
	}
	if err := checkTime("start", start); err != nil {
		return err
	}
	if t.Period == PeriodWeek && start.Weekday() != time.Monday {
		return fmt.Errorf("start: a week target starts on a Monday, %s is a %s", t.Start, start.Weekday())
	}
	if t.Period == PeriodMonth && start.Day() != 1 {
		return fmt.Errorf("start: a month target starts on the 1st, got %s", t.Start)
	}
	if t.Value < 0 || t.Value != t.Value || t.Value > 1e18 {
		return fmt.Errorf("value: must be a non-negative finite number, got %v", t.Value)
	}
	return nil
}

func checkName(field, s string) error {
	if s == "" || len(s) > schema.MaxTagValueLen || !utf8.ValidString(s) {
		return fmt.Errorf("%s: must be 1 to %d bytes of UTF-8, got %q", field, schema.MaxTagValueLen, s)
	}
	if i := slices.IndexFunc([]rune(s), unicode.IsControl); i >= 0 {
		return fmt.Errorf("%s: must not contain control characters", field)
	}
	if strings.HasSuffix(s, `\`) {
		// Stored as a tag: line protocol cannot end a tag value with a backslash.
		return fmt.Errorf("%s: must not end with a backslash, got %q", field, s)
	}
	return nil
}

// CampaignLine encodes the campaign's stored point; deleted marks a tombstone.
func CampaignLine(c *Campaign, deleted bool) (string, error) {
	def, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("calendar: encode campaign %q: %w", c.ID, err)
	}
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	enc.StartLine(schema.MeasCampaign)
	enc.AddTag(schema.TagCampaign, c.ID)
	enc.AddField(schema.FieldDefinition, lineprotocol.MustNewValue(string(def)))
	enc.AddField(schema.FieldDeleted, lineprotocol.BoolValue(deleted))
	enc.EndLine(c.Start())
	if err := enc.Err(); err != nil {
		return "", fmt.Errorf("calendar: encode campaign %q: %w", c.ID, err)
	}
	return string(trimNewline(enc.Bytes())), nil
}

// TargetLine encodes the target's stored point; deleted marks a tombstone.
func TargetLine(t *Target, loc *time.Location, deleted bool) (string, error) {
	start, err := t.StartTime(loc)
	if err != nil {
		return "", err
	}
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	enc.StartLine(schema.MeasTarget)
	enc.AddTag(schema.TagKPI, t.KPI)
	enc.AddTag(schema.TagPeriod, t.Period)
	enc.AddTag(schema.TagStore, t.Store)
	v, ok := lineprotocol.FloatValue(t.Value)
	if !ok {
		return "", fmt.Errorf("calendar: target value %v is not finite", t.Value)
	}
	enc.AddField(schema.FieldDeleted, lineprotocol.BoolValue(deleted))
	enc.AddField(schema.FieldValue, v)
	enc.EndLine(start)
	if err := enc.Err(); err != nil {
		return "", fmt.Errorf("calendar: encode target: %w", err)
	}
	return string(trimNewline(enc.Bytes())), nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
