package influxql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// maxLateRows bounds a late-data read (one row per ingester, store, day and
// segment with late events).
const maxLateRows = 200_000

// LateQuery reads the late-data records of spec.
func LateQuery(spec engine.LateSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s, %s, %s, %s, %s FROM %s WHERE %s AND %s >= %d AND %s < %d",
		iql.Ident(schema.FieldEvents), iql.Ident(schema.FieldGMV), iql.Ident(schema.FieldPaidAmount),
		iql.Ident(schema.FieldRefundAmount), iql.Ident(schema.FieldArrived), iql.Ident(schema.MeasLate),
		timeRange(spec.Start, spec.Stop), iql.Ident(schema.FieldArrived), spec.ArrivedFrom.Unix(),
		iql.Ident(schema.FieldArrived), spec.ArrivedTo.Unix())
	if len(spec.Stores) > 0 {
		b.WriteString(" AND " + anyOf(schema.TagStore, spec.Stores))
	}
	b.WriteString(" GROUP BY " + iql.Ident(schema.TagStore))
	return b.String()
}

// Late implements engine.LateSource. A measurement that does not exist
// yet (nothing was ever late) is no late data.
func (s *Source) Late(ctx context.Context, spec engine.LateSpec) ([]engine.LateRow, error) {
	if err := checkAll(nil, spec.Stores); err != nil {
		return nil, badInput(err)
	}
	var out []engine.LateRow
	err := s.run(ctx, "reading the late data", LateQuery(spec), iql.Options{}, func(_ int, sr *iql.Series) error {
		cols := []int{sr.Column(schema.FieldEvents), sr.Column(schema.FieldGMV), sr.Column(schema.FieldPaidAmount),
			sr.Column(schema.FieldRefundAmount)}
		ac := sr.Column(schema.FieldArrived)
		for _, row := range sr.Values {
			if len(out) >= maxLateRows {
				return fmt.Errorf("more than %d late-data records: narrow the range", maxLateRows)
			}
			t, err := rowTime(sr, row)
			if err != nil {
				return err
			}
			r := engine.LateRow{Store: sr.Tags[schema.TagStore], Time: t}
			for i, dst := range []*float64{&r.Events, &r.GMV, &r.PaidAmount, &r.RefundAmount} {
				if cols[i] < 0 || cols[i] >= len(row) {
					continue
				}
				v, _, err := iql.Float(row[cols[i]])
				if err != nil {
					return fmt.Errorf("%s.%s: %w", schema.MeasLate, sr.Columns[cols[i]], err)
				}
				*dst = v
			}
			if ac >= 0 && ac < len(row) {
				if n, ok := row[ac].(interface{ String() string }); ok {
					if sec, err := strconv.ParseFloat(n.String(), 64); err == nil {
						r.Arrived = time.Unix(int64(sec), 0).UTC()
					}
				}
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		var e *iql.Error
		if errors.As(err, &e) && e.NotFound() && strings.Contains(strings.ToLower(e.Message), "table") {
			return nil, nil // InfluxDB 3.x before the first sp_late point
		}
		return nil, err
	}
	return out, nil
}
