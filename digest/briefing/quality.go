package briefing

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/schema"
)

// minGapHours is the shortest silence reported: hours in a row without any
// event where the same hours a week earlier had some.
const minGapHours = 2

// quality is section 6: stores that sent nothing, stale stores, late data
// that changed past days, rejected input.
func (b *Builder) quality(ctx context.Context, st *state) (Quality, error) {
	q := Quality{Silent: []StoreGap{}, Stale: []StoreAge{}}
	gaps, err := b.gaps(ctx, st)
	if err != nil {
		return q, err
	}
	q.Silent = append(q.Silent, gaps...)
	fr, err := b.o.Engine.Freshness(ctx, b.o.Now(), st.scope.filters())
	if err != nil {
		return q, fmt.Errorf("briefing: freshness: %w", err)
	}
	for _, r := range fr.Rows {
		if r.Age > b.o.StaleAfter.Seconds() {
			q.Stale = append(q.Stale, StoreAge{Store: r.Store, Newest: r.Newest, Age: r.Age,
				Link: b.drill("events_received", r.Store, "", "", r.Newest.Add(-engine.FreshnessLookback/7), fr.At)})
		}
	}
	late, checked, err := b.late(ctx, st)
	if err != nil {
		return q, err
	}
	q.Late, q.LateChecked = late, checked
	if !checked {
		q.NotChecked = append(q.NotChecked, st.tr.T("late data that changed past days (this InfluxDB source cannot read it)"))
	}
	if b.o.IngestDataDir == "" {
		q.NotChecked = append(q.NotChecked, st.tr.T("rejected and dead-lettered input (no ingest data directory configured)"))
		return q, nil
	}
	rej, err := rejected(b.o.IngestDataDir, st.d)
	if err != nil {
		q.NotChecked = append(q.NotChecked, st.tr.T("rejected and dead-lettered input: ")+err.Error())
		return q, nil
	}
	q.Rejected = rej
	return q, nil
}

// gaps finds, once per build, the stores that sent nothing for hours on the
// day: the engine's events_received per store and hour against a week earlier.
func (b *Builder) gaps(ctx context.Context, st *state) ([]StoreGap, error) {
	if st.gapsDone {
		return st.gaps, st.gapsErr
	}
	st.gapsDone = true
	st.gaps, st.gapsErr = b.findGaps(ctx, st)
	return st.gaps, st.gapsErr
}

func (b *Builder) findGaps(ctx context.Context, st *state) ([]StoreGap, error) {
	d := st.d
	res, err := run(ctx, b.o.Engine, models.Query{KPI: "events_received", Filters: st.scope.filters(), GroupBy: []string{schema.TagStore},
		Interval: "1h", Compare: models.Compare1w, CompareOutputs: []string{models.OutputSeries}}, d.start, d.end)
	if err != nil {
		return nil, err
	}
	cur, prev := map[string][]*float64{}, map[string][]*float64{}
	for _, s := range res.Series {
		switch s.Role {
		case engine.RoleCurrent:
			cur[groupOf(s)] = s.Values
		case models.OutputSeries:
			prev[groupOf(s)] = s.Values
		}
	}
	var stores []string
	for s := range prev {
		if s != "" {
			stores = append(stores, s)
		}
	}
	slices.Sort(stores)
	var out []StoreGap
	for _, s := range stores {
		c, p := cur[s], prev[s]
		best, bestStart, run, runStart, silentAll := 0, 0, 0, 0, true
		for i := range res.Times {
			zero := c == nil || c[i] == nil || *c[i] == 0
			if !zero {
				silentAll = false
			}
			if zero && p[i] != nil && *p[i] > 0 {
				if run == 0 {
					runStart = i
				}
				run++
				if run > best {
					best, bestStart = run, runStart
				}
				continue
			}
			if !zero {
				run = 0
			}
		}
		if best < minGapHours {
			continue
		}
		g := StoreGap{Store: s, Hours: best, From: res.Times[bestStart], To: d.end,
			Link: b.drill("events_received", s, "", "", d.start, d.end)}
		if bestStart+best < len(res.Times) {
			g.To = res.Times[bestStart+best]
		}
		if silentAll {
			g.Hours, g.From, g.To = len(res.Times), d.start, d.end
		}
		out = append(out, g)
	}
	return out, nil
}

// rejected counts the files of the ingest's dead-letter and quarantine
// directories (docs/operations.md).
func rejected(dataDir string, d day) (*Rejected, error) {
	r := &Rejected{}
	for _, sub := range []struct {
		dir   string
		files *int
		bytes *int64
	}{{"deadletter", &r.DeadLetterFiles, &r.DeadLetterBytes}, {"quarantine", &r.QuarantineFiles, &r.QuarantineBytes}} {
		root := filepath.Join(dataDir, sub.dir)
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			*sub.files++
			*sub.bytes += info.Size()
			if mt := info.ModTime(); !mt.Before(d.start) && mt.Before(d.end) {
				r.NewOnDay++
			}
			return nil
		})
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", sub.dir, err)
		}
	}
	return r, nil
}
