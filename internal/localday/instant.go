package localday

import "time"

// Instant is the instant a wall-clock reading y-m-d hh:mm:ss.ns names in
// loc. Out-of-range fields are normalised as by time.Date. A reading that
// the zone's clocks show exactly once is that instant. For the readings a
// clock change makes ambiguous, StorePulse's one rule is: read them with the
// UTC offset in force just before the change. That is
//   - in a gap (clocks jump forward: 02:30 on the spring change in Berlin,
//     00:30 on 2017-10-15 in São Paulo), the reading is moved forward by the
//     length of the gap: 02:30 becomes 03:30 CEST, 00:30 becomes 01:30;
//   - in an overlap (clocks go back: the repeated hour in autumn), the
//     earlier of the two instants.
//
// This is RFC 5545's rule for DATE-TIME with TZID (§3.3.5), java.time's
// ZonedDateTime.of, Python's zoneinfo with fold=0 and JavaScript Temporal's
// default ("compatible") disambiguation. It also agrees with Start: a
// reading of 00:00 on a day whose midnight does not exist is the day's
// first instant, so such a time is always counted on the date it shows.
//
// time.Date is not used for this: Go documents its choice in a gap or
// overlap as unspecified, and in a gap at midnight it picks 23:xx of the
// day before.
func Instant(y int, m time.Month, d, hh, mm, ss, ns int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, hh, mm, ss, ns, time.UTC) // the reading as if in UTC
	// Walk the zone's periods forward from an instant surely before the
	// reading in any zone. In a period of offset o the reading is the
	// instant wall-o, if that lies in the period.
	p := wall.Add(-maxOffset).Truncate(time.Second)
	_, before := p.In(loc).Zone()
	for {
		_, off := p.In(loc).Zone()
		cand := wall.Add(-time.Duration(off) * time.Second)
		if cand.Before(p) {
			// The period starts after the reading: the clocks jumped over
			// it. Read it with the offset of the period before.
			return wall.Add(-time.Duration(before) * time.Second).In(loc)
		}
		end := periodEnd(p, loc, wall.Add(maxOffset))
		if end.IsZero() || cand.Before(end) {
			return cand.In(loc) // the first period showing the reading: the earlier instant
		}
		p, before = end, off
	}
}

// InstantOf is Instant for the wall-clock fields of t (its date and clock
// in t's own location, typically a time parsed as UTC from a text without
// offset).
func InstantOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return Instant(y, m, d, hh, mm, ss, t.Nanosecond(), loc)
}
