// Package clock is StorePulse's one source of "now". Services take a clock
// (func() time.Time) instead of calling time.Now, so that tests, demos and
// replays can run them on any date.
//
// The environment variable STOREPULSE_NOW (an RFC 3339 instant) starts a
// process's clock at that instant; from there it advances with real time.
// The ingest service, the datasource plugin and the simulator honour it; it
// is meant for tests and demos, never for production.
package clock

import (
	"fmt"
	"time"
)

// Env names the environment variable that shifts a process's clock.
const Env = "STOREPULSE_NOW"

// Func reads the current time.
type Func = func() time.Time

// Shifted returns a clock that reads start now and advances with real
// (monotonic) time.
func Shifted(start time.Time) Func {
	began := time.Now()
	return func() time.Time { return start.Add(time.Since(began)) }
}

// FromEnv is time.Now, or, when getenv(Env) is set, a clock shifted to the
// instant it names.
func FromEnv(getenv func(string) string) (Func, error) {
	v := getenv(Env)
	if v == "" {
		return time.Now, nil
	}
	start, err := Parse(v)
	if err != nil {
		return nil, err
	}
	return Shifted(start), nil
}

// Parse reads an instant given in Env: RFC 3339, with or without fractional
// seconds.
func Parse(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q: not an RFC 3339 instant such as 2026-11-11T09:30:00+08:00: %w", Env, v, err)
	}
	return t, nil
}
