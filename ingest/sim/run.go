package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what a run sent.
type Stats struct {
	Events, Accepted, Duplicates, Requests int64
}

// BackfillOptions configures Backfill.
type BackfillOptions struct {
	BatchSize   int // events per request, at most MaxBatch (default MaxBatch)
	Concurrency int // requests in flight (default 2)
	// Progress receives a progress bar (e.g. os.Stderr); nil for none.
	Progress io.Writer
	// ProgressEvery is the bar's refresh interval (default 250ms).
	ProgressEvery time.Duration
	Log           *slog.Logger
}

// Backfill PUTs the campaigns and targets, then sends every event of g
// through c as fast as the service accepts them.
func Backfill(ctx context.Context, g *Generator, c *Client, o BackfillOptions) (Stats, error) {
	if o.BatchSize <= 0 || o.BatchSize > MaxBatch {
		o.BatchSize = MaxBatch
	}
	o.Concurrency = max(o.Concurrency, 1)
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 250 * time.Millisecond
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st Stats
	if err := c.PutCampaigns(ctx, g.Campaigns()); err != nil {
		return st, err
	}
	if err := c.PutTargets(ctx, g.Targets()); err != nil {
		return st, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	loc := g.Config().Location

	batches := make(chan []Event, o.Concurrency)
	var events, accepted, dups, requests atomic.Int64
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				res, err := c.SendEvents(ctx, b, loc)
				if err != nil {
					cancel(err)
					return
				}
				requests.Add(1)
				accepted.Add(int64(res.Accepted))
				dups.Add(int64(res.Duplicates))
			}
		}()
	}

	bar := newProgressBar(o.Progress)
	var done atomic.Uint64 // progress in millionths, written by the producer
	stopBar := make(chan struct{})
	var barWG sync.WaitGroup
	if bar != nil {
		barWG.Add(1)
		go func() {
			defer barWG.Done()
			tick := time.NewTicker(o.ProgressEvery)
			defer tick.Stop()
			for {
				select {
				case <-stopBar:
					return
				case <-tick.C:
					bar.draw(float64(done.Load())/1e6, accepted.Load()+dups.Load(), g.Config())
				}
			}
		}()
	}

	// The producer generates hour by hour and cuts batches; a full channel
	// holds it back, so memory stays bounded by the concurrency.
	var prodErr error
	batch := make([]Event, 0, o.BatchSize)
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case batches <- batch:
			events.Add(int64(len(batch)))
			batch = make([]Event, 0, o.BatchSize)
			return true
		case <-ctx.Done():
			return false
		}
	}
produce:
	for {
		evs, ok := g.Next()
		if !ok {
			break
		}
		for len(evs) > 0 {
			n := min(o.BatchSize-len(batch), len(evs))
			batch = append(batch, evs[:n]...)
			evs = evs[n:]
			if len(batch) == o.BatchSize && !send() {
				break produce
			}
		}
		done.Store(uint64(g.Progress() * 1e6))
	}
	send()
	close(batches)
	wg.Wait()
	close(stopBar)
	barWG.Wait()
	if cause := context.Cause(ctx); cause != nil {
		prodErr = fmt.Errorf("sim: backfill: %w", cause)
	}
	st = Stats{Events: events.Load(), Accepted: accepted.Load(), Duplicates: dups.Load(), Requests: requests.Load()}
	if bar != nil {
		bar.draw(g.Progress(), st.Accepted+st.Duplicates, g.Config())
		bar.finish()
	}
	log.Info("backfill finished", "events", st.Events, "accepted", st.Accepted, "duplicates", st.Duplicates, "requests", st.Requests)
	return st, prodErr
}

// LiveOptions configures Live.
type LiveOptions struct {
	// Interval is how often due events are sent (default 2s).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SkipUntil: events at or before it are generated (the simulation's
	// state depends on them) but not sent, because an earlier run of the
	// same configuration sent them already.
	SkipUntil time.Time
	// Sent, if set, is called after each round with the time up to which
	// every event has been sent (or skipped): the point to resume from.
	Sent func(upTo time.Time)
	Log  *slog.Logger
}

// Live sends g's events in real time: every interval, the events whose time
// has come. It PUTs campaigns and targets first and returns when the range
// ends or ctx is cancelled (returning the context's error).
func Live(ctx context.Context, g *Generator, c *Client, o LiveOptions) (Stats, error) {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st Stats
	if err := c.PutCampaigns(ctx, g.Campaigns()); err != nil {
		return st, err
	}
	if err := c.PutTargets(ctx, g.Targets()); err != nil {
		return st, err
	}
	loc := g.Config().Location
	var queue []Event
	more := true
	for {
		now := o.Now()
		for more && !g.Cursor().After(now) {
			var evs []Event
			evs, more = g.Next()
			queue = append(queue, evs...)
		}
		due := 0
		for due < len(queue) && !queue[due].Time.After(now) {
			due++
		}
		skip := 0
		for skip < due && !queue[skip].Time.After(o.SkipUntil) {
			skip++
		}
		for sent := skip; sent < due; {
			n := min(MaxBatch, due-sent)
			res, err := c.SendEvents(ctx, queue[sent:sent+n], loc)
			if err != nil {
				return st, err
			}
			st.Events += int64(n)
			st.Accepted += int64(res.Accepted)
			st.Duplicates += int64(res.Duplicates)
			st.Requests++
			sent += n
		}
		if due > skip {
			log.Debug("live events sent", "events", due-skip, "total", st.Events)
		}
		if o.Sent != nil {
			o.Sent(now)
		}
		queue = append(queue[:0], queue[due:]...)
		if !more && len(queue) == 0 {
			return st, nil
		}
		if err := sleepCtx(ctx, o.Interval); err != nil {
			return st, fmt.Errorf("sim: live: %w", err)
		}
	}
}

// progressBar draws a one-line bar on a terminal-like writer.
type progressBar struct {
	w     io.Writer
	start time.Time
}

func newProgressBar(w io.Writer) *progressBar {
	if w == nil {
		return nil
	}
	return &progressBar{w: w, start: time.Now()}
}

func (b *progressBar) draw(frac float64, sent int64, cfg Config) {
	const width = 30
	frac = clamp(frac, 0, 1)
	full := int(frac * width)
	elapsed := time.Since(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(sent) / elapsed
	}
	days := cfg.End.Sub(cfg.Start).Hours() / 24
	// Best effort: a broken terminal must not stop the backfill.
	_, _ = fmt.Fprintf(b.w, "\r[%s%s] %5.1f%%  day %.0f/%.0f  %d events  %.0f ev/s ",
		strings.Repeat("#", full), strings.Repeat(".", width-full), frac*100, frac*days, days, sent, rate)
}

func (b *progressBar) finish() { _, _ = fmt.Fprintln(b.w) }
