package consolidate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/consolidate"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
)

// memPoints is the ingest service's default influx.consolidate_memory.
const memPoints = 500_000

// memEnv is a consolidator that keeps hours in memory, given every
// segment's sums as the pipeline gives them, with its reads counted.
type memEnv struct {
	*env
	ing        string
	c          *consolidate.Consolidator
	fine, main *slowQuerier
	seg        uint64
}

func (e *env) memConsolidator(ing string, clk *clockAt, points int) *memEnv {
	m := &memEnv{env: e, ing: ing, fine: &slowQuerier{q: e.ql, max: 1 << 62}, main: &slowQuerier{q: e.ql, max: 1 << 62}}
	c, err := consolidate.New(consolidate.Options{Ingester: ing, Location: berlin, Fine: m.fine, Main: m.main,
		Write: writer{e.db}, FineBucket: influxtest.Bucket, Now: clk.now, MemoryPoints: points})
	require.NoError(e.t, err)
	require.NoError(e.t, c.Load(e.ctx)) // as the flusher does before its first write
	m.c = c
	return m
}

// flush writes evs as the next segment, then tells the consolidator (as
// the pipeline does: Written, and Add once InfluxDB took the points).
func (m *memEnv) flush(evs []event.Event) {
	m.seg++
	r, err := rollup.New(rollup.Options{Ingester: m.ing, Location: berlin, Sketches: rollup.NewInfluxQLSketches(m.ql, m.ing)})
	require.NoError(m.t, err)
	s := r.NewSegment(m.seg)
	s.Add(&event.Batch{Events: evs})
	lines, err := r.Lines(m.ctx, s)
	require.NoError(m.t, err)
	m.db.WriteLines(m.t, lines)
	m.c.Written(s.HourStores())
	s.HourSums(m.c.Add)
}

// history flushes evs one local day per segment.
func (m *memEnv) history(evs []event.Event) {
	for len(evs) > 0 {
		day := localday.Floor(time.Unix(0, evs[0].Time), berlin)
		n := 1
		for n < len(evs) && localday.Floor(time.Unix(0, evs[n].Time), berlin).Equal(day) {
			n++
		}
		m.flush(evs[:n])
		evs = evs[n:]
	}
}

// reads are the consolidation reads so far (minute and hourly series).
func (m *memEnv) reads() int { return m.fine.reads + m.main.reads }

func TestConsolidationFromMemory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("a new ingester consolidates from memory, late events too", func(t *testing.T) {
		clk := &clockAt{now0}
		m := e.memConsolidator("mem-new", clk, memPoints)
		evs := genEvents(21, "mem-new", from0, now0)
		m.history(evs)
		tickAll(t, m.c)
		e.requireExact("mem-new", evs)
		require.Zero(t, m.reads(), "no minute or hourly point read back")

		refund := event.Event{Type: event.TypeRefund, ID: "mem-new-refund", Time: now0.Add(-20*24*time.Hour + 7*time.Minute).UnixNano(),
			Store: "tmall", Channel: "app", Reason: "damaged", Amount: 321}
		m.flush([]event.Event{refund})
		require.NoError(t, m.c.Settle(ctx))
		evs = append(evs, refund)
		e.requireExact("mem-new", evs)
		require.Zero(t, m.reads())

		// An hour later, the next hour from memory too.
		clk.t = now0.Add(time.Hour)
		more := genEvents(22, "mem-new-more", now0, now0.Add(50*time.Minute))
		m.flush(more)
		tickAll(t, m.c)
		e.requireExact("mem-new", append(evs, more...))
		require.Zero(t, m.reads())
	})

	t.Run("after a restart, the hours written before it are read back", func(t *testing.T) {
		clk := &clockAt{now0}
		before := e.memConsolidator("mem-restart", clk, memPoints)
		evs := genEvents(23, "mem-restart", from0, now0.Add(-30*time.Minute))
		before.history(evs)
		tickAll(t, before.c) // then the process ends

		// The restarted process: memory from the hour after the latest
		// minute point; a late event in an hour before it is read back, the
		// hours after it are not.
		clk.t = now0.Add(3 * time.Hour)
		m := e.memConsolidator("mem-restart", clk, memPoints)
		late := event.Event{Type: event.TypeOrder, ID: "mem-restart-late", Time: now0.Add(-26 * time.Hour).UnixNano(),
			Store: "jd", Channel: "web", User: "u1", Amount: 77, Items: 1}
		next := genEvents(24, "mem-restart-next", now0.Add(time.Hour), now0.Add(2*time.Hour+40*time.Minute))
		m.flush(append([]event.Event{late}, next...))
		require.NoError(t, m.c.Settle(ctx))
		readsLate := m.fine.reads
		require.Positive(t, readsLate, "the late hour is read back")
		tickAll(t, m.c)
		all := append(append(evs, late), next...)
		e.requireExact("mem-restart", all)
		require.Equal(t, readsLate+1, m.fine.reads, "one read for the hours up to the restart's, none after")
	})

	t.Run("past its bound memory drops the oldest hours, which are read back", func(t *testing.T) {
		clk := &clockAt{now0}
		m := e.memConsolidator("mem-small", clk, 40)
		evs := genEvents(25, "mem-small", from0, now0)
		m.history(evs)
		tickAll(t, m.c)
		e.requireExact("mem-small", evs)
		require.Positive(t, m.reads())
	})

	t.Run("an ingester that wrote before keeps only later hours in memory", func(t *testing.T) {
		clk := &clockAt{now0}
		evs := genEvents(26, "mem-old", from0, now0)
		e.history("mem-old", evs) // written by an earlier process (no consolidation yet)
		m := e.memConsolidator("mem-old", clk, memPoints)
		late := genEvents(27, "mem-old-late", now0.Add(-6*time.Hour), now0)
		m.flush(late)
		tickAll(t, m.c)
		e.requireExact("mem-old", append(evs, late...))
		require.Positive(t, m.fine.reads)
	})
}
