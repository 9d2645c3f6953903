package consolidate

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const hour = int64(time.Hour)

func TestLateSetAdd(t *testing.T) {
	cases := []struct {
		name  string
		hours []int64 // in units of an hour
		want  []span  // in units of an hour
	}{
		{name: "one", hours: []int64{5}, want: []span{{5, 6}}},
		{name: "again", hours: []int64{5, 5}, want: []span{{5, 6}}},
		{name: "consecutive", hours: []int64{5, 6, 7}, want: []span{{5, 8}}},
		{name: "backwards", hours: []int64{7, 6, 5}, want: []span{{5, 8}}},
		{name: "gap", hours: []int64{5, 7}, want: []span{{5, 6}, {7, 8}}},
		{name: "gap filled", hours: []int64{5, 7, 6}, want: []span{{5, 8}}},
		{name: "before and after", hours: []int64{10, 2, 20, 11, 1}, want: []span{{1, 3}, {10, 12}, {20, 21}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := lateSet{}
			for _, h := range tc.hours {
				s.add("s1", h*hour)
			}
			want := make([]span, len(tc.want))
			for i, sp := range tc.want {
				want[i] = span{sp.From * hour, sp.To * hour}
			}
			require.Equal(t, want, s["s1"])
		})
	}
}

// TestLateSetRandom checks the spans against a plain set of hours.
func TestLateSetRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for range 200 {
		s, plain := lateSet{}, map[int64]bool{}
		for range rng.IntN(60) {
			h := int64(rng.IntN(80)) * hour
			require.Equal(t, !plain[h], s.add("s", h), "add reports a change exactly when the hour is new")
			plain[h] = true
		}
		var got []int64
		for i, sp := range s["s"] {
			require.Less(t, sp.From, sp.To)
			if i > 0 {
				require.Less(t, s["s"][i-1].To, sp.From, "spans are sorted, disjoint and not touching")
			}
			for h := sp.From; h < sp.To; h += hour {
				got = append(got, h)
			}
		}
		var want []int64
		for h := range plain {
			want = append(want, h)
		}
		slices.Sort(want)
		require.Equal(t, want, got)
	}
}
