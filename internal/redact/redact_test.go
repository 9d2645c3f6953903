package redact

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://influx:8086", "http://influx:8086"},
		{"http://admin:hunter2@influx:8086/x", "http://admin:xxxxx@influx:8086/x"},
		{"https://influx:8086/?token=abc", "https://influx:8086/?redacted"},
		{"http://a b:%zz@x", "(unparsable URL)"},
	} {
		got := URL(tc.in)
		require.Equal(t, tc.want, got)
		require.NotContains(t, got, "hunter2")
	}
}
