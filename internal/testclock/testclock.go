// Package testclock gives tests their "now": never the wall clock's date.
//
// By default it is Default, a fixed instant. STOREPULSE_NOW (package clock)
// moves it, so that the whole suite can be run as if on another day:
// `make test-dates` runs it on DST changes, 29 February, New Year's Eve,
// a Monday just after midnight, Double Eleven and today.
package testclock

import (
	"fmt"
	"os"
	"time"

	"github.com/storepulse/storepulse/internal/clock"
)

// Default is the tests' "now" when STOREPULSE_NOW is not set: a Wednesday,
// 14:00 in Asia/Shanghai, far from any calendar edge.
var Default = time.Date(2026, 6, 10, 6, 0, 0, 0, time.UTC)

// Now is the tests' current instant: STOREPULSE_NOW, or Default. It panics
// on a malformed STOREPULSE_NOW (a broken test run, not a test failure).
func Now() time.Time {
	v := os.Getenv(clock.Env)
	if v == "" {
		return Default
	}
	t, err := clock.Parse(v)
	if err != nil {
		panic(fmt.Sprintf("testclock: %v", err))
	}
	return t
}

// began is when this test binary started: the running clocks (Clock, Env)
// read Now() then and advance with real time, so that every service of a
// test, in process or child, and every restart of one, agree.
var began = time.Now()

// Clock reads Now() at the test binary's start and advances with real time:
// what a service under test is given.
func Clock() clock.Func {
	start := Now()
	return func() time.Time { return start.Add(time.Since(began)) }
}

// Env is the environment entry that starts a child process's clock (a
// service under test) where Clock() reads now.
func Env() string { return clock.Env + "=" + Clock()().UTC().Format(time.RFC3339Nano) }
