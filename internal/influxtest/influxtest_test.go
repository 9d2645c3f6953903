package influxtest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
)

func TestStartWriteQuery(t *testing.T) {
	s := influxtest.Start(t)
	s.WriteLines(t, []string{"m,store=s1 v=2 1700000000000000000", "m,store=s1 v=3 1700000000000000001"})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.Query(ctx, `from(bucket:"`+s.Bucket+`") |> range(start: 2023-01-01T00:00:00Z) |> filter(fn:(r)=> r._measurement=="m") |> sum()`)
	require.NoError(t, err)
	require.Contains(t, out, ",5\r\n")

	s.Stop()
	require.False(t, s.Healthy())
	require.NoError(t, s.Restart())
	out, err = s.Query(ctx, `from(bucket:"`+s.Bucket+`") |> range(start: 2023-01-01T00:00:00Z) |> filter(fn:(r)=> r._measurement=="m") |> count()`)
	require.NoError(t, err)
	require.Contains(t, out, ",2\r\n")
}

func TestStartDirOptions(t *testing.T) {
	dir := t.TempDir()
	s, err := influxtest.StartDirOptions(dir, influxtest.Options{CompactAfter: 30 * time.Second})
	require.NoError(t, err)
	defer s.Stop()
	require.True(t, s.Healthy())
	require.Positive(t, s.PID())
	require.NoError(t, s.Write(context.Background(), []string{"m v=1 1700000000000000000"}))
	conf, err := os.ReadFile(filepath.Join(dir, "influxdb.conf"))
	require.NoError(t, err)
	require.Contains(t, string(conf), `cache-snapshot-write-cold-duration = "30s"`)
	require.Contains(t, string(conf), `compact-full-write-cold-duration = "30s"`)
}
