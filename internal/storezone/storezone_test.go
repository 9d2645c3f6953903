package storezone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/storezone"
)

func TestLine(t *testing.T) {
	at := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	l, err := storezone.Line("ing-1", "America/Sao_Paulo", at)
	require.NoError(t, err)
	require.Equal(t, `sp_meta,ingester=ing-1 timezone="America/Sao_Paulo" 1781049600000000000`, l)
	for _, bad := range [][2]string{{"", "UTC"}, {"a b", "UTC"}, {"a", ""}, {"a", `x"y`}} {
		_, err := storezone.Line(bad[0], bad[1], at)
		require.Error(t, err, bad)
	}
}

func TestResolve(t *testing.T) {
	t1, t2 := time.Unix(100, 0), time.Unix(200, 0)
	_, err := storezone.Resolve(nil)
	require.ErrorContains(t, err, "no store time zone recorded")
	r, err := storezone.Resolve([]storezone.Recorded{{"a", "Europe/Berlin", t1}, {"b", "Europe/Berlin", t2}})
	require.NoError(t, err)
	require.Equal(t, "b", r.Ingester)
	r, err = storezone.Resolve([]storezone.Recorded{{"a", "Europe/Berlin", t1}, {"b", "Asia/Shanghai", t2}})
	require.ErrorContains(t, err, "a: Europe/Berlin, b: Asia/Shanghai")
	require.Equal(t, "Asia/Shanghai", r.Zone, "the newest")
}

func TestCheck(t *testing.T) {
	for _, z := range []string{"UTC", "Asia/Shanghai", "America/Sao_Paulo", "America/Santiago", "Europe/London"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		require.NoError(t, storezone.Check(loc), z)
	}
	for _, z := range []string{"Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran", "America/St_Johns"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		require.ErrorContains(t, storezone.Check(loc), "only zones whose offset is a whole number of hours", z)
	}
	require.Error(t, storezone.Check(nil))
}
