package fluxq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/fluxq"
)

func TestString(t *testing.T) {
	cases := map[string]string{
		`s1`:            `"s1"`,
		`天猫旗舰店`:         `"天猫旗舰店"`,
		`a"b`:           `"a\"b"`,
		`back\slash`:    `"back\\slash"`,
		"${secret}":     `"\${secret}"`,
		"line\nbreak\t": `"line\nbreak\t"`,
	}
	for in, want := range cases {
		require.Equal(t, want, fluxq.String(in), in)
	}
}

func TestTime(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	require.Equal(t, "2026-11-10T16:00:00.5Z", fluxq.Time(time.Date(2026, 11, 11, 0, 0, 0, 5e8, sh)))
}
