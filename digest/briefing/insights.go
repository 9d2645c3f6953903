package briefing

import (
	"context"
	"fmt"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// Changes assembles only "what changed", "why" and "what to do" of the
// briefing of date (YYYY-MM-DD; empty: yesterday by the clock) for the whole
// business or one store: the datasource's insights query type
// (datasource/pkg/plugin/insights.go). The glance, the rhythm and the data
// quality are left out (Glance, Rhythm and Quality stay empty); the changes,
// their numbers, reasons and actions are those Build gives for the same day.
func (b *Builder) Changes(ctx context.Context, date, store string) (*Briefing, error) {
	d, now, err := b.resolveDay(date)
	if err != nil {
		return nil, err
	}
	loc, start := d.loc, d.start
	date = d.date
	br := &Briefing{Business: b.o.Business, Store: store, Date: date, Weekday: start.In(loc).Weekday().String(),
		TimeZone: loc.String(), Currency: b.o.Currency, GeneratedAt: now.UTC(), Sensitivity: b.o.K,
		Link: b.link("/d/storepulse-wall", nil, d.start, d.end)}
	camps, err := b.o.Engine.Source.Campaigns(ctx)
	if err != nil {
		return nil, fmt.Errorf("briefing: campaigns: %w", err)
	}
	st := &state{d: d, scope: scope{store: store}, camps: camps, values: map[string]*float64{}}
	// The currency conversions of the impacts (AOV, ARPU of the day) that
	// the glance would otherwise provide.
	for _, need := range []struct {
		id  string
		dst **float64
	}{{"aov", &st.aov}, {"arpu", &st.arpu}} {
		res, err := run(ctx, b.o.Engine, models.Query{KPI: need.id, Filters: st.scope.filters(), Interval: models.IntervalDay}, d.start, d.end)
		if err != nil {
			return nil, err
		}
		*need.dst = last(current(res))
	}
	if br.Changes, err = b.changes(ctx, st); err != nil {
		return nil, err
	}
	br.NothingUnusual = len(br.Changes) == 0
	return br, nil
}
