package sketch

import (
	"strconv"
	"testing"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
)

func sketchOf(prefix string, from, to int) *hyperloglog.Sketch {
	sk := hyperloglog.New14()
	for i := from; i < to; i++ {
		sk.InsertHash(xxhash.Sum64String(prefix + strconv.Itoa(i)))
	}
	return sk
}

func TestRoundTripAndUnion(t *testing.T) {
	tests := []struct {
		name   string
		ranges [][2]int
		want   float64
	}{
		{"empty union", nil, 0},
		{"one small sketch", [][2]int{{0, 100}}, 100},
		{"overlap counts once", [][2]int{{0, 5000}, {2500, 7500}}, 7500},
		{"disjoint large", [][2]int{{0, 20000}, {20000, 50000}}, 50000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u Union
			for _, r := range tt.ranges {
				enc, err := Encode(sketchOf("u", r[0], r[1]))
				require.NoError(t, err)
				require.NoError(t, u.AddEncoded(enc))
			}
			require.Equal(t, len(tt.ranges), u.Sketches())
			require.InDelta(t, tt.want, float64(u.Estimate()), 0.02*tt.want)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, s := range []string{"not base64!", "AAAA"} {
		_, err := Decode(s)
		require.Error(t, err, s)
	}
	var u Union
	require.Error(t, u.AddEncoded("###"))
}

func TestMergeUnions(t *testing.T) {
	var a, b, empty Union
	require.NoError(t, a.Add(sketchOf("x", 0, 1000)))
	require.NoError(t, b.Add(sketchOf("x", 500, 1500)))
	require.NoError(t, a.Merge(&b))
	require.NoError(t, a.Merge(&empty))
	require.NoError(t, a.Merge(nil))
	require.InDelta(t, 1500, float64(a.Estimate()), 30)
}

func TestUnionEncode(t *testing.T) {
	var empty Union
	enc, err := empty.Encode()
	require.NoError(t, err)
	sk, err := Decode(enc)
	require.NoError(t, err)
	require.Zero(t, sk.Estimate())

	var u Union
	for _, r := range [][2]int{{0, 3000}, {1000, 9000}} {
		enc, err := Encode(sketchOf("e", r[0], r[1]))
		require.NoError(t, err)
		require.NoError(t, u.AddEncoded(enc))
	}
	enc, err = u.Encode()
	require.NoError(t, err)
	var again Union
	require.NoError(t, again.AddEncoded(enc))
	require.Equal(t, u.Estimate(), again.Estimate(), "the stored union counts what the union counted")
}

func TestUnionWithKnownEstimate(t *testing.T) {
	// Alone, a sketch with a known estimate is neither decoded nor counted.
	var u Union
	require.NoError(t, u.AddEncodedEstimate("not even base64!", 42))
	require.EqualValues(t, 42, u.Estimate())
	require.Equal(t, 1, u.Sketches())
	enc, err := u.Encode()
	require.NoError(t, err)
	require.Equal(t, "not even base64!", enc)
	require.Error(t, u.AddEncoded("AAAA"), "decoded once another sketch joins")

	a, err := Encode(sketchOf("k", 0, 3000))
	require.NoError(t, err)
	b, err := Encode(sketchOf("k", 2000, 6000))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		add  func(u *Union) error
	}{
		{"then another encoded", func(u *Union) error { return u.AddEncoded(b) }},
		{"then another with its estimate", func(u *Union) error { return u.AddEncodedEstimate(b, 4000) }},
		{"then a sketch", func(u *Union) error { return u.Add(sketchOf("k", 2000, 6000)) }},
		{"merged into another union", func(u *Union) error {
			var o Union
			require.NoError(t, o.AddEncoded(b))
			require.NoError(t, o.Merge(u))
			*u = o
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u Union
			require.NoError(t, u.AddEncodedEstimate(a, 3000))
			require.NoError(t, tc.add(&u))
			require.Equal(t, 2, u.Sketches())
			require.InDelta(t, 6000, float64(u.Estimate()), 120)
		})
	}
	var zero Union
	require.NoError(t, zero.AddEncodedEstimate(a, 0))
	require.InDelta(t, 3000, float64(zero.Estimate()), 60, "0: not known, decoded and counted")
}
