package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/redact"
	"github.com/storepulse/storepulse/internal/schema"
)

// dataLookback is how far back CheckHealth looks for StorePulse data.
const dataLookback = 30 * 24 * time.Hour

// CheckHealth says precisely what is wrong: InfluxDB unreachable, the token
// rejected, the bucket missing, or no StorePulse data yet.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.ql != nil {
		return d.checkHealthInfluxQL(ctx)
	}
	if d.influx == nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusUnknown, Message: "no InfluxDB client configured"}, nil
	}
	fail := func(format string, a ...any) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, a...)}, nil
	}
	s := d.settings
	s.URL = redact.URL(s.URL) // user:password@ never reaches Grafana's UI
	clean := func(err error) string { return redactErr(err, d.settings.URL) }
	ok, err := d.influx.Ping(ctx)
	if err != nil || !ok {
		return fail("InfluxDB at %s is unreachable: %s", s.URL, clean(err))
	}
	q := d.influx.QueryAPI(orgOf(s.Org, s.Version))
	probe := fmt.Sprintf("from(bucket: %s)\n  |> range(start: -1m)\n  |> limit(n: 1)", flux.String(s.Bucket))
	if err := drain(ctx, q, probe); err != nil {
		var he *ihttp.Error
		switch {
		case errors.As(err, &he) && (he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden):
			return fail("InfluxDB at %s rejected the token (%d): check the token in the datasource settings", s.URL, he.StatusCode)
		case isNotFound(err):
			return fail("bucket %q does not exist in InfluxDB at %s (on InfluxDB 1.8 use database/retention-policy, e.g. storepulse/autogen)", s.Bucket, s.URL)
		}
		return fail("InfluxDB at %s cannot query bucket %q: %s", s.URL, s.Bucket, clean(err))
	}
	start := d.now().Add(-dataLookback)
	data := fmt.Sprintf("from(bucket: %s)\n  |> range(start: %s)\n  |> filter(fn: (r) => r._measurement == %s and r._field == %s)\n  |> limit(n: 1)",
		flux.String(s.Bucket), start.UTC().Format(time.RFC3339), flux.String(schema.MeasIngest), flux.String(schema.FieldEvents))
	found, err := any1(ctx, q, data)
	if err != nil {
		return fail("InfluxDB at %s failed to look for StorePulse data: %s", s.URL, clean(err))
	}
	if !found {
		newest, ok, err := d.newestFlux(ctx, q)
		if err != nil {
			return fail("InfluxDB at %s failed to look for older StorePulse data: %s", s.URL, clean(err))
		}
		return d.historyOnly(ctx, newest, ok), nil
	}
	return d.checkStoreZone(ctx, fmt.Sprintf("InfluxDB %s: bucket %q has StorePulse data", s.Version, s.Bucket)), nil
}

// checkStoreZone ends Save & test on both read paths: the store time zone
// storepulse-ingest recorded against the datasource's setting. found says
// what was found so far.
func (d *Datasource) checkStoreZone(ctx context.Context, found string) *backend.CheckHealthResult {
	s := d.settings
	d.zoneMu.Lock()
	d.zone = zoneState{} // Save & test reads the zone afresh
	d.zoneMu.Unlock()
	z := d.storeZone(ctx)
	switch {
	case z.err != nil:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf("store time zone: %s", redactErr(z.err, s.URL))}
	case z.rec.Zone == "":
		return &backend.CheckHealthResult{Status: backend.HealthStatusOk,
			Message: fmt.Sprintf("%s; no store time zone recorded by storepulse-ingest yet (an ingest older than this plugin?): using the datasource setting %s", found, s.TimeZone)}
	case s.TimeZoneSet && s.TimeZone != z.rec.Zone:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("the datasource's store time zone %s differs from %s, the zone storepulse-ingest cuts the days of its daily sketches by (timezone in its configuration, recorded in InfluxDB): queries use %s; clear the datasource's time zone or set it to %s",
				s.TimeZone, z.rec.Zone, z.rec.Zone, z.rec.Zone)}
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("%s; store time zone %s (recorded by storepulse-ingest)", found, z.rec.Zone)}
}

// redactErr is err's text with the configured URL, and any user:password@
// in it, shown without the password.
func redactErr(err error, rawURL string) string {
	if err == nil {
		return "no answer"
	}
	msg := err.Error()
	if rawURL != "" {
		msg = strings.ReplaceAll(msg, rawURL, redact.URL(rawURL))
	}
	if parsed, perr := url.Parse(rawURL); perr == nil && parsed.User != nil {
		if pw, ok := parsed.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// checkHealthInfluxQL is CheckHealth through the v1 API, which works on
// InfluxDB 3.x too (there /health answers plain text and needs the token):
// /ping with the token, then a recent sp_ingest point, which also tells a
// missing database or DBRP mapping.
func (d *Datasource) checkHealthInfluxQL(ctx context.Context) (*backend.CheckHealthResult, error) {
	fail := func(format string, a ...any) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf(format, a...)}, nil
	}
	s, c := d.settings, d.ql
	s.URL = redact.URL(s.URL) // user:password@ never reaches Grafana's UI
	clean := func(err error) string { return redactErr(err, d.settings.URL) }
	rejected := func(err error) (int, bool) {
		var e *iql.Error
		if errors.As(err, &e) && e.Unauthorized() {
			return e.StatusCode, true
		}
		return 0, false
	}
	if err := c.Ping(ctx); err != nil {
		if code, ok := rejected(err); ok {
			return fail("InfluxDB at %s rejected the token (%d): check the token in the datasource settings", s.URL, code)
		}
		return fail("InfluxDB at %s is unreachable: %s", s.URL, clean(err))
	}
	probe := fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s", iql.Ident(schema.FieldEvents), iql.Ident(schema.MeasIngest),
		iql.Time(d.now().Add(-dataLookback)))
	found := false
	err := c.Query(ctx, probe, iql.Options{}, func(_ int, sr *iql.Series) error {
		found = found || len(sr.Values) > 0
		return nil
	})
	if err != nil {
		var e *iql.Error
		switch code, ok := rejected(err); {
		case ok:
			return fail("InfluxDB at %s rejected the token (%d): check the token in the datasource settings", s.URL, code)
		case errors.As(err, &e) && e.NotFound() && !tableNotFound(e.Message):
			return fail("bucket %q does not exist in InfluxDB at %s: on 1.8 and 3.x name the database (or database/retention-policy, e.g. storepulse/autogen); on 2.x the bucket needs a DBRP mapping (every bucket has a virtual one): %s", s.Bucket, s.URL, clean(err))
		case errors.As(err, &e) && tableNotFound(e.Message): // 3.x before the first sp_ingest point
		default:
			return fail("InfluxDB at %s cannot query bucket %q with InfluxQL: %s", s.URL, s.Bucket, clean(err))
		}
	}
	if !found {
		newest, ok, err := d.newestInfluxQL(ctx)
		if err != nil {
			return fail("InfluxDB at %s failed to look for older StorePulse data: %s", s.URL, clean(err))
		}
		return d.historyOnly(ctx, newest, ok), nil
	}
	return d.checkStoreZone(ctx, fmt.Sprintf("InfluxDB %s: bucket %q has StorePulse data (read with InfluxQL)", s.Version, s.Bucket)), nil
}

// historyStart bounds the search for older data (InfluxDB 3.x plans a query
// over every file in its range).
func historyStart() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// historyOnly is Save & test's answer when nothing arrived in the last 30
// days: an error when the bucket holds no StorePulse data at all, else a
// warning (Grafana's health check has no warning status: OK with a message
// that starts with "warning") that says what it found — history imported
// from a platform export is a fine datasource.
func (d *Datasource) historyOnly(ctx context.Context, newest time.Time, found bool) *backend.CheckHealthResult {
	s := d.settings
	if !found {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("InfluxDB is reachable and bucket %q exists, but it holds no StorePulse data at all: is storepulse-ingest writing to it?", s.Bucket)}
	}
	now := d.now()
	days := int(now.Sub(newest).Hours() / 24)
	loc := d.storeZone(ctx).loc
	if loc == nil {
		loc = time.UTC
	}
	return d.checkStoreZone(ctx, fmt.Sprintf("warning: bucket %q has StorePulse data, but none from the last 30 days: the newest is from %s, %d days ago. "+
		"Panels on recent ranges stay empty: pick a time range that holds the data, or check that storepulse-ingest is still writing",
		s.Bucket, newest.In(loc).Format("2006-01-02 15:04 MST"), days))
}

// newestInfluxQL is the time of the newest sp_ingest point since 2000.
func (d *Datasource) newestInfluxQL(ctx context.Context) (time.Time, bool, error) {
	q := fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s AND time <= %s", iql.Ident(schema.FieldEvents), iql.Ident(schema.MeasIngest),
		iql.Time(historyStart()), iql.Time(d.now()))
	var newest time.Time
	err := d.ql.Query(ctx, q, iql.Options{}, func(_ int, sr *iql.Series) error {
		ti := sr.Column("time")
		for _, row := range sr.Values {
			if ti < 0 || ti >= len(row) {
				continue
			}
			if t, err := iql.TimeOf(row[ti]); err == nil && t.After(newest) {
				newest = t
			}
		}
		return nil
	})
	if err != nil {
		var e *iql.Error
		if errors.As(err, &e) && tableNotFound(e.Message) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, err
	}
	return newest, !newest.IsZero(), nil
}

// newestFlux is the time of the newest sp_ingest point since 2000.
func (d *Datasource) newestFlux(ctx context.Context, q api.QueryAPI) (time.Time, bool, error) {
	latest := fmt.Sprintf("from(bucket: %s)\n  |> range(start: %s, stop: %s)\n  |> filter(fn: (r) => r._measurement == %s and r._field == %s)\n  |> last()\n  |> group()\n  |> sort(columns: [\"_time\"], desc: true)\n  |> limit(n: 1)",
		flux.String(d.settings.Bucket), historyStart().Format(time.RFC3339), d.now().UTC().Add(time.Second).Format(time.RFC3339Nano),
		flux.String(schema.MeasIngest), flux.String(schema.FieldEvents))
	res, err := q.Query(ctx, latest)
	if err != nil {
		return time.Time{}, false, err
	}
	defer func() { _ = res.Close() }()
	var newest time.Time
	for res.Next() {
		if t := res.Record().Time(); t.After(newest) {
			newest = t
		}
	}
	if err := res.Err(); err != nil {
		return time.Time{}, false, err
	}
	return newest, !newest.IsZero(), nil
}

// tableNotFound tells a missing measurement (a table on 3.x) from a missing
// database in a "not found" error.
func tableNotFound(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "table") || strings.Contains(m, "measurement")
}

// orgOf is the org to query with: InfluxDB 1.8 ignores it but the client
// needs one.
func orgOf(org, version string) string {
	if org == "" && version == models.InfluxV18 {
		return "-"
	}
	return org
}

func isNotFound(err error) bool {
	var he *ihttp.Error
	if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
		return true
	}
	msg := strings.ToLower(err.Error())
	// 2.x: "bucket ... not found"; 1.8: "no database".
	return strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist") || strings.Contains(msg, "no database")
}

func drain(ctx context.Context, q api.QueryAPI, flux string) error {
	res, err := q.Query(ctx, flux)
	if err != nil {
		return err
	}
	defer func() { _ = res.Close() }()
	n := 0
	for res.Next() {
		n++
	}
	return res.Err()
}

func any1(ctx context.Context, q api.QueryAPI, flux string) (bool, error) {
	res, err := q.Query(ctx, flux)
	if err != nil {
		return false, err
	}
	defer func() { _ = res.Close() }()
	if res.Next() {
		return true, nil
	}
	return false, res.Err()
}
