package influxql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Unit tests against a fake /query; the real InfluxDB 1.8 is exercised
// through the datasource's agreement tests.

func TestQueryRequestAndChunkedAnswer(t *testing.T) {
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		got = append(got, r)
		w.Header().Set("Content-Type", "application/json")
		// Two chunks of statement 0 (one series split), then statement 1.
		fmt.Fprintln(w, `{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"store":"a"},"columns":["time","v"],"values":[[1,1.5]]}],"partial":true}]}`)
		fmt.Fprintln(w, `{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"store":"a"},"columns":["time","v"],"values":[[2,null]]}]}]}`)
		fmt.Fprintln(w, `{"results":[{"statement_id":1,"series":[{"name":"n","columns":["time","s"],"values":[["2026-11-11T00:00:00.5Z","x"]]}]}]}`)
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL + "/", Token: "secret", Database: "db", RetentionPolicy: "rp"}
	type row struct {
		stmt int
		tags map[string]string
		vals []any
	}
	var rows []row
	long := "SELECT 1" + strings.Repeat(" ", maxURLQuery)
	for _, q := range []string{"SELECT 1; SELECT 2", long} {
		rows = rows[:0]
		require.NoError(t, c.Query(context.Background(), q, Options{ChunkSize: 7}, func(stmt int, s *Series) error {
			for _, v := range s.Values {
				rows = append(rows, row{stmt, s.Tags, v})
			}
			return nil
		}))
		require.Len(t, rows, 3)
		require.Equal(t, 0, rows[1].stmt)
		require.Equal(t, "a", rows[1].tags["store"])
		require.Nil(t, rows[1].vals[1])
		require.Equal(t, 1, rows[2].stmt)
		tm, err := TimeOf(rows[0].vals[0])
		require.NoError(t, err)
		require.Equal(t, time.Unix(0, 1).UTC(), tm)
		tm, err = TimeOf(rows[2].vals[0])
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 11, 11, 0, 0, 0, 5e8, time.UTC), tm)
		f, ok, err := Float(rows[0].vals[1])
		require.NoError(t, err)
		require.True(t, ok)
		require.InDelta(t, 1.5, f, 0)
	}
	require.Len(t, got, 2)
	for i, r := range got {
		require.Equal(t, "/query", r.URL.Path)
		require.Equal(t, "Token secret", r.Header.Get("Authorization"))
		require.Equal(t, "db", r.URL.Query().Get("db"))
		require.Equal(t, "rp", r.URL.Query().Get("rp"))
		require.Equal(t, "ns", r.URL.Query().Get("epoch"))
		require.Equal(t, "true", r.URL.Query().Get("chunked"))
		require.Equal(t, "7", r.URL.Query().Get("chunk_size"))
		if i == 0 {
			require.Equal(t, http.MethodGet, r.Method)
			require.Equal(t, "SELECT 1; SELECT 2", r.URL.Query().Get("q"))
		} else {
			require.Equal(t, http.MethodPost, r.Method, "a long query goes in the body")
			require.Empty(t, r.URL.Query().Get("q"))
			require.Equal(t, long, r.PostForm.Get("q"))
		}
	}
}

func TestQueryErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, err error)
	}{
		{"statement error", 200, `{"results":[{"statement_id":0,"error":"database not found: nodb"}]}`, func(t *testing.T, err error) {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.True(t, e.NotFound())
			require.EqualError(t, err, "InfluxDB: database not found: nodb")
		}},
		{"1.8 unauthorized", 401, `{"error":"authorization failed"}`, func(t *testing.T, err error) {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.True(t, e.Unauthorized())
			require.EqualError(t, err, "InfluxDB answered 401 Unauthorized: authorization failed")
		}},
		{"2.x unauthorized", 401, `{"code":"unauthorized","message":"unauthorized access"}`, func(t *testing.T, err error) {
			require.ErrorContains(t, err, "401 Unauthorized: unauthorized access")
		}},
		{"3.x plain text", 403, "forbidden\n", func(t *testing.T, err error) {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.True(t, e.Unauthorized())
			require.Equal(t, "forbidden", e.Message)
		}},
		{"parse error", 400, `{"error":"error parsing query: found EOF"}`, func(t *testing.T, err error) {
			require.ErrorContains(t, err, "400 Bad Request: error parsing query")
		}},
		{"broken answer", 200, `{"results":[{"statement_id":0,"series":[{"values":[[1,`, func(t *testing.T, err error) {
			require.ErrorContains(t, err, "reading InfluxDB's answer")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &Client{URL: srv.URL, Database: "db"}
			tt.check(t, c.Query(context.Background(), "SELECT 1", Options{}, func(int, *Series) error { return nil }))
		})
	}
}

func TestQueryBoundsAndTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") == "slow" {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		big := strings.Repeat("x", 4096)
		for range 100 {
			b, _ := json.Marshal(map[string]any{"results": []any{map[string]any{"statement_id": 0,
				"series": []any{map[string]any{"name": "m", "columns": []string{"time", "s"}, "values": [][]any{{1, big}}}}}}})
			_, _ = w.Write(append(b, '\n'))
		}
	}))
	defer srv.Close()
	defer close(block)

	// The size bound, with a timeout that a loaded machine (-race, CI) never
	// reaches; then the timeout, on a query that never answers.
	big := &Client{URL: srv.URL, Database: "db", MaxResponseBytes: 100 << 10, Timeout: time.Minute}
	n := 0
	err := big.Query(context.Background(), "big", Options{}, func(int, *Series) error { n++; return nil })
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	require.Less(t, n, 30)

	c := &Client{URL: srv.URL, Database: "db", MaxResponseBytes: 100 << 10, Timeout: 200 * time.Millisecond}
	start := time.Now()
	err = c.Query(context.Background(), "slow", Options{}, func(int, *Series) error { return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	stop := errors.New("stop")
	err = (&Client{URL: srv.URL}).Query(context.Background(), "big", Options{}, func(int, *Series) error { return stop })
	require.ErrorIs(t, err, stop)
}

func TestErrorsNeverCarryURLCredentials(t *testing.T) {
	c := &Client{URL: "http://user:hunter2@127.0.0.1:1", Database: "db", Timeout: time.Second}
	err := c.Query(context.Background(), "SELECT 1", Options{}, func(int, *Series) error { return nil })
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	err = c.Ping(context.Background())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestPing(t *testing.T) {
	// InfluxDB 3.x: /ping and /health need the token; /health answers text.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/ping" {
			_, _ = w.Write([]byte(`{"version":"3.0.0"}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	require.NoError(t, (&Client{URL: srv.URL, Token: "good"}).Ping(context.Background()))
	err := (&Client{URL: srv.URL, Token: "bad"}).Ping(context.Background())
	var e *Error
	require.ErrorAs(t, err, &e)
	require.True(t, e.Unauthorized())
}

// fakeQuerier answers every query with its series, one statement.
type fakeQuerier []Series

func (f fakeQuerier) Query(_ context.Context, _ string, _ Options, fn func(int, *Series) error) error {
	for i := range f {
		if err := fn(0, &f[i]); err != nil {
			return err
		}
	}
	return nil
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Series
		want   int64
		err    string
	}{
		{"none", nil, 0, ""},
		{"summed over series and rows", []Series{
			{Name: "lp_a", Columns: []string{"time", "count"}, Values: [][]any{{"1970-01-01T00:00:00Z", json.Number("3")}}},
			{Name: "lp_b", Columns: []string{"time", "count"}, Values: [][]any{{"1970-01-01T00:00:00Z", json.Number("4")}, {"1970-01-01T00:00:00Z", json.Number("5")}}},
		}, 12, ""},
		{"no value column", []Series{{Name: "m", Columns: []string{"time"}, Values: [][]any{{"1970-01-01T00:00:00Z"}}}}, 0, "without a value column"},
		{"not a number", []Series{{Name: "m", Columns: []string{"time", "count"}, Values: [][]any{{"1970-01-01T00:00:00Z", "x"}}}}, 0, "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Count(context.Background(), fakeQuerier(tc.series), "SELECT count(x) FROM m")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		})
	}
}
