package deliver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/digest/briefing"
)

// dateBuilder builds a briefing of the date asked for.
type dateBuilder struct{ dates chan string }

func (d dateBuilder) Build(_ context.Context, date, store string) (*briefing.Briefing, error) {
	d.dates <- date
	return &briefing.Briefing{Business: "Shop", Store: store, Date: date, Weekday: "Tuesday", TimeZone: "Asia/Shanghai",
		Currency: "CNY", NothingUnusual: true, Changes: []briefing.Change{}}, nil
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestCatchUp stops and restarts serve around its 07:30 run on an injected
// clock, delivering to a local webhook: a run missed while it was down is
// delivered once at the next start (the briefing of the day before the
// run), never twice across restarts, not when older than CatchUp, and a
// run interrupted by a stop is not repeated.
func TestCatchUp(t *testing.T) {
	sh := shanghai(t)
	at := func(d, h, m int) time.Time { return time.Date(2026, 5, d, h, m, 0, 0, sh) }
	var mu sync.Mutex
	var posts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	delivered := func() int { mu.Lock(); defer mu.Unlock(); return len(posts) }
	sched, err := ParseSchedule("30 7 * * *", sh)
	require.NoError(t, err)
	stateDir := filepath.Join(t.TempDir(), "state")
	list := List{Name: "ops", Schedule: sched, Webhooks: []Target{{URL: hook.URL + "/hook", Format: "json"}}}

	// start runs serve at now until it waits for its next run, then stops
	// it; it returns the dates it briefed and the log.
	start := func(now time.Time, catchUp time.Duration) ([]string, string) {
		t.Helper()
		var log syncLog
		dates := make(chan string, 8)
		s := &Service{Lists: []List{list}, Builder: dateBuilder{dates}, Webhook: &Webhook{Client: &http.Client{Timeout: 5 * time.Second}, Attempts: 1},
			FailedDir: filepath.Join(stateDir, "failed"), StateDir: stateDir, CatchUp: catchUp,
			Logger: slog.New(slog.NewTextHandler(&log, nil)), Now: func() time.Time { return now }}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		require.Eventually(t, func() bool { return strings.Contains(log.String(), "next delivery") }, 10*time.Second, 5*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		close(dates)
		var got []string
		for d := range dates {
			got = append(got, d)
		}
		return got, log.String()
	}

	// First start at 07:00, stopped before 07:30: nothing delivered, and
	// nothing owed from before the first start.
	dates, _ := start(at(20, 7, 0), 24*time.Hour)
	require.Empty(t, dates)
	require.Equal(t, 0, delivered())
	require.FileExists(t, filepath.Join(stateDir, StateFile))

	// Restarted at 09:00: the 07:30 run was missed; it is delivered once,
	// as a catch-up, with the briefing of 05-19.
	dates, log := start(at(20, 9, 0), 24*time.Hour)
	require.Equal(t, []string{"2026-05-19"}, dates)
	require.Equal(t, 1, delivered())
	require.Contains(t, log, "catching up a scheduled run")
	require.Contains(t, log, "catch_up=true")
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(posts[0]), &payload))
	require.Equal(t, "2026-05-19", payload["date"])

	// Restarted again at 09:05: already delivered, not again.
	dates, _ = start(at(20, 9, 5), 24*time.Hour)
	require.Empty(t, dates)
	require.Equal(t, 1, delivered())

	// Down over the next 07:30 and back 30 minutes after it: caught up.
	dates, _ = start(at(21, 8, 0), 24*time.Hour)
	require.Equal(t, []string{"2026-05-20"}, dates)
	require.Equal(t, 2, delivered())

	// With a catch-up bound of an hour, the missed 05-24 07:30 run is too
	// old at 09:00: not delivered, said so.
	dates, log = start(at(24, 9, 0), time.Hour)
	require.Empty(t, dates)
	require.Equal(t, 2, delivered())
	require.Contains(t, log, "too old to catch up")

	// A run interrupted by a stop (recorded running, never done) is not
	// delivered again at the next start, and says so.
	st, err := loadState(stateDir)
	require.NoError(t, err)
	ls := st.list("ops")
	require.NoError(t, st.set("ops", listState{Done: ls.Done, Running: at(25, 7, 30)}))
	dates, log = start(at(25, 9, 0), 24*time.Hour)
	require.Empty(t, dates)
	require.Equal(t, 2, delivered())
	require.Contains(t, log, "interrupted by a stop")

	// A damaged state file stops the start with a message naming it.
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, StateFile), []byte("{"), 0o600))
	err = (&Service{Lists: []List{list}, StateDir: stateDir, Logger: slog.New(slog.DiscardHandler), Now: time.Now}).Run(context.Background())
	require.ErrorContains(t, err, StateFile)
}

func TestSchedulePrev(t *testing.T) {
	sh := shanghai(t)
	s, err := ParseSchedule("30 7 * * 1-5", sh)
	require.NoError(t, err)
	at := func(d, h, m int) time.Time { return time.Date(2026, 5, d, h, m, 0, 0, sh) }
	require.Equal(t, at(20, 7, 30), s.Prev(at(20, 7, 30), at(19, 0, 0))) // at the minute itself
	require.Equal(t, at(19, 7, 30), s.Prev(at(20, 7, 29), at(18, 0, 0))) // the day before
	require.Equal(t, at(22, 7, 30), s.Prev(at(24, 12, 0), at(18, 0, 0))) // Sunday → Friday
	require.True(t, s.Prev(at(20, 7, 29), at(19, 7, 30)).IsZero())       // not after the limit
}
