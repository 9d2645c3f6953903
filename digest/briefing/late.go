package briefing

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/localday"
)

// LateLookback is how far before the briefed day late data is looked for:
// the ingest's default history_horizon (a history import may reach that
// far back).
const LateLookback = 3 * 365 * 24 * time.Hour

// MaxLateDays caps the days listed per store (the rest are counted in
// MoreDays): a history import may change hundreds.
const MaxLateDays = 31

// LateStore is a store's late data: events of days before the briefed one
// that reached InfluxDB from the briefed day's start up to the briefing
// (the ingest records them, schema.MeasLate), so those days changed after
// they were reported.
type LateStore struct {
	Store string `json:"store"`
	// Days are the days changed, oldest first (at most MaxLateDays, the
	// most recent ones); MoreDays counts the older days left out.
	Days     []LateDay `json:"days"`
	MoreDays int       `json:"moreDays,omitempty"`
	// The totals over every day changed.
	Events       float64 `json:"events"`
	GMV          float64 `json:"gmv"`
	PaidAmount   float64 `json:"paidAmount"`
	RefundAmount float64 `json:"refundAmount"`
	// LastArrived is when the newest of them reached InfluxDB.
	LastArrived time.Time `json:"lastArrived"`
	Link        string    `json:"link"`
}

// LateDay is one day changed by late data.
type LateDay struct {
	Date         string  `json:"date"`
	Events       float64 `json:"events"`
	GMV          float64 `json:"gmv"`
	PaidAmount   float64 `json:"paidAmount"`
	RefundAmount float64 `json:"refundAmount"`
	Link         string  `json:"link"`
}

// late reads the late data that changed days before the briefed one, from
// the briefed day's start up to now; ok is false when the source cannot
// read it.
func (b *Builder) late(ctx context.Context, st *state) (out []LateStore, ok bool, err error) {
	ls, ok := b.o.Engine.Source.(engine.LateSource)
	if !ok {
		return nil, false, nil
	}
	d, now := st.d, b.o.Now()
	spec := engine.LateSpec{Start: d.start.Add(-LateLookback), Stop: d.start, ArrivedFrom: d.start, ArrivedTo: now}
	if st.scope.store != "" {
		spec.Stores = []string{st.scope.store}
	}
	rows, err := ls.Late(ctx, spec)
	if err != nil {
		return nil, true, fmt.Errorf("briefing: late data: %w", err)
	}
	type key struct {
		store string
		day   time.Time
	}
	days := map[key]*LateDay{}
	stores := map[string]*LateStore{}
	for _, r := range rows {
		if r.Events <= 0 {
			continue
		}
		k := key{r.Store, localday.Floor(r.Time, d.loc)}
		ld := days[k]
		if ld == nil {
			ld = &LateDay{Date: k.day.In(d.loc).Format(time.DateOnly),
				Link: b.drill("events_received", r.Store, "", "", k.day, localday.Next(k.day, d.loc))}
			days[k] = ld
		}
		ld.Events += r.Events
		ld.GMV += r.GMV
		ld.PaidAmount += r.PaidAmount
		ld.RefundAmount += r.RefundAmount
		s := stores[r.Store]
		if s == nil {
			s = &LateStore{Store: r.Store}
			stores[r.Store] = s
		}
		if r.Arrived.After(s.LastArrived) {
			s.LastArrived = r.Arrived
		}
	}
	keys := make([]key, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.store != b.store {
			if a.store < b.store {
				return -1
			}
			return 1
		}
		return a.day.Compare(b.day)
	})
	first := map[string]time.Time{}
	for _, k := range keys {
		s, ld := stores[k.store], days[k]
		if _, ok := first[k.store]; !ok {
			first[k.store] = k.day
		}
		s.Days = append(s.Days, *ld)
		s.Events += ld.Events
		s.GMV += ld.GMV
		s.PaidAmount += ld.PaidAmount
		s.RefundAmount += ld.RefundAmount
	}
	names := make([]string, 0, len(stores))
	for n := range stores {
		names = append(names, n)
	}
	slices.Sort(names)
	out = []LateStore{}
	for _, n := range names {
		s := stores[n]
		last, _ := time.ParseInLocation(time.DateOnly, s.Days[len(s.Days)-1].Date, d.loc)
		s.Link = b.drill("events_received", n, "", "", first[n], localday.Next(localday.Floor(last, d.loc), d.loc))
		if len(s.Days) > MaxLateDays {
			s.MoreDays = len(s.Days) - MaxLateDays
			s.Days = s.Days[s.MoreDays:]
		}
		s.LastArrived = s.LastArrived.UTC()
		out = append(out, *s)
	}
	return out, true, nil
}
