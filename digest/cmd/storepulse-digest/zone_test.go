package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/storezone"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// TestStoreZone: the zone the ingest recorded is used; timezone overrides
// it (a different recorded zone is logged as a conflict); without either,
// Asia/Shanghai; the start-up log names the zone and where it came from.
func TestStoreZone(t *testing.T) {
	at := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	recorded := func(zones ...string) zoneReader {
		return func(context.Context) ([]storezone.Recorded, error) {
			var out []storezone.Recorded
			for i, z := range zones {
				out = append(out, storezone.Recorded{Ingester: "ingest-" + string(rune('1'+i)), Zone: z, At: at})
			}
			return out, nil
		}
	}
	down := func(context.Context) ([]storezone.Recorded, error) { return nil, errors.New("connection refused") }
	tests := []struct {
		name     string
		override string
		read     zoneReader
		want     string
		logs     []string
		err      string
	}{
		{"recorded", "", recorded("America/Sao_Paulo"), "America/Sao_Paulo", []string{`zone=America/Sao_Paulo source="recorded by storepulse-ingest" ingester=ingest-1`}, ""},
		{"override wins", "Asia/Shanghai", recorded("America/Sao_Paulo"), "Asia/Shanghai",
			[]string{"level=WARN msg=\"store time zone conflict", "timezone=Asia/Shanghai recorded=America/Sao_Paulo", `source="the timezone setting (an override: it wins over the recorded zone)"`}, ""},
		{"override agrees", "America/Sao_Paulo", recorded("America/Sao_Paulo"), "America/Sao_Paulo", []string{"an override"}, ""},
		{"nothing recorded", "", recorded(), "Asia/Shanghai", []string{`source="default: storepulse-ingest recorded none and timezone is not set"`}, ""},
		{"unusable record", "", recorded("Asia/Kathmandu"), "Asia/Shanghai", []string{"cannot be used here", "default"}, ""},
		{"ingesters disagree", "", recorded("Europe/Berlin", "Asia/Shanghai"), "Europe/Berlin", []string{"record different store time zones"}, ""},
		{"down, override", "Europe/Berlin", down, "Europe/Berlin", []string{"using the timezone setting"}, ""},
		{"down", "", down, "", nil, "connection refused (set timezone to brief without it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			var override *time.Location
			if tt.override != "" {
				override = mustZone(t, tt.override)
			}
			loc, err := storeZone(context.Background(), override, tt.read, 0, log)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, loc.String())
			for _, l := range tt.logs {
				require.Contains(t, buf.String(), l)
			}
			if tt.name == "override agrees" {
				require.NotContains(t, buf.String(), "conflict")
			}
		})
	}

	t.Run("serve waits for InfluxDB", func(t *testing.T) {
		calls := 0
		read := func(ctx context.Context) ([]storezone.Recorded, error) {
			if calls++; calls < 3 {
				return down(ctx)
			}
			return recorded("Europe/Berlin")(ctx)
		}
		var buf bytes.Buffer
		loc, err := storeZone(context.Background(), nil, read, time.Millisecond, slog.New(slog.NewTextHandler(&buf, nil)))
		require.NoError(t, err)
		require.Equal(t, "Europe/Berlin", loc.String())
		require.Equal(t, 3, calls)
		require.Contains(t, buf.String(), "trying again")
	})
}

// TestStoreZoneInflux reads the zone two ingesters recorded (sp_meta, the
// line storepulse-ingest writes) from a real InfluxDB 1.8.
func TestStoreZoneInflux(t *testing.T) {
	srv := influxtest.Start(t)
	src, err := influxql.New(srv.URL, srv.Token, srv.Bucket, &http.Client{Timeout: 30 * time.Second})
	require.NoError(t, err)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	loc, err := storeZone(context.Background(), nil, influxZones(src.Client), 0, log)
	require.NoError(t, err)
	require.Equal(t, "Asia/Shanghai", loc.String(), "nothing recorded yet")
	require.Contains(t, buf.String(), "recorded none")

	var lines []string
	for _, ing := range []string{"ingest-1", "ingest-2"} {
		l, err := storezone.Line(ing, "America/Sao_Paulo", storezone.RecordTime())
		require.NoError(t, err)
		lines = append(lines, l)
	}
	srv.WriteLines(t, lines)
	buf.Reset()
	loc, err = storeZone(context.Background(), nil, influxZones(src.Client), 0, log)
	require.NoError(t, err)
	require.Equal(t, "America/Sao_Paulo", loc.String())
	require.Contains(t, buf.String(), "recorded by storepulse-ingest")
	loc, err = storeZone(context.Background(), mustZone(t, "Asia/Shanghai"), influxZones(src.Client), 0, log)
	require.NoError(t, err)
	require.Equal(t, "Asia/Shanghai", loc.String())
	require.Contains(t, buf.String(), "store time zone conflict")
}
