package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The crash test re-executes the test binary as a child that appends in a loop
// and prints every acknowledged record; the parent SIGKILLs it mid-loop.
const (
	crashDirEnv   = "STOREPULSE_SPOOL_CRASH_DIR"
	crashRoundEnv = "STOREPULSE_SPOOL_CRASH_ROUND"
	crashWriters  = 8
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashRoundEnv)))
	}
	os.Exit(m.Run())
}

// crashRecord is the deterministic content of record i of writer g in a round,
// so the parent can check payloads as well as presence.
func crashRecord(round string, g, i int) []byte {
	head := fmt.Sprintf("%s %d %d ", round, g, i)
	return append([]byte(head), bytes.Repeat([]byte{byte('a' + (g+i)%26)}, 50+(g*997+i*131)%1500)...)
}

func crashChild(dir, round string) int {
	s, err := Open(Options{Dir: dir, SegmentMaxBytes: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				id, err := s.Append(context.Background(), crashRecord(round, g, i))
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				// One write per line: an acknowledgement is either wholly in
				// the pipe or absent when the kill lands.
				out.Lock()
				_, _ = fmt.Fprintf(os.Stdout, "ack %s %d %d %d\n", round, g, i, id)
				out.Unlock()
				if g == 0 && i%50 == 49 {
					if _, _, err := s.Seal(); err != nil {
						fmt.Fprintln(os.Stderr, "seal:", err)
						os.Exit(3)
					}
				}
			}
		})
	}
	wg.Wait()
	return 0
}

type crashAck struct {
	g, i int
	seg  SegmentID
}

// runCrashChild starts a child, lets it acknowledge at least minAcks records,
// SIGKILLs it and returns every acknowledgement it printed.
func runCrashChild(t *testing.T, dir, round string, minAcks int) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+round)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var acks []crashAck
	killed := false
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial last line would be an unfinished print: not an ack.
			require.ErrorIs(t, err, io.EOF)
			break
		}
		f := strings.Fields(line)
		require.Len(t, f, 5, "line %q", line)
		require.Equal(t, round, f[1])
		g, _ := strconv.Atoi(f[2])
		i, _ := strconv.Atoi(f[3])
		seg, _ := strconv.ParseUint(f[4], 10, 64)
		acks = append(acks, crashAck{g, i, SegmentID(seg)})
		if !killed && len(acks) >= minAcks {
			require.NoError(t, cmd.Process.Kill())
			killed = true
		}
	}
	err = cmd.Wait()
	require.True(t, killed, "child ended before being killed: %v\n%s", err, stderr.String())
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "wait: %v", err)
	require.Contains(t, exit.String(), "killed", "stderr: %s", stderr.String())
	return acks
}

func TestCrashLosesNoAcknowledgedRecord(t *testing.T) {
	dir := t.TempDir()
	var prevMax SegmentID
	for round, minAcks := range []int{1500, 2500, 800} {
		name := fmt.Sprintf("r%d", round)
		acks := runCrashChild(t, dir, name, minAcks)
		require.GreaterOrEqual(t, len(acks), minAcks)

		s, err := Open(Options{Dir: dir})
		require.NoError(t, err, "reopen after SIGKILL")
		type key struct{ g, i int }
		found := make(map[key]SegmentID)
		next := make([]int, crashWriters)
		var minSeg SegmentID
		for _, id := range s.Sealed() {
			require.NoError(t, s.Read(id, func(rec []byte) error {
				f := strings.SplitN(string(rec), " ", 4)
				if f[0] != name {
					return nil // an earlier round's record
				}
				g, _ := strconv.Atoi(f[1])
				i, _ := strconv.Atoi(f[2])
				require.Equal(t, crashRecord(name, g, i), rec, "payload intact")
				require.Equal(t, next[g], i, "writer %d's records in order without gaps", g)
				next[g]++
				found[key{g, i}] = id
				if minSeg == 0 {
					minSeg = id
				}
				return nil
			}))
		}
		for _, a := range acks {
			seg, ok := found[key{a.g, a.i}]
			require.True(t, ok, "acknowledged record %d/%d lost", a.g, a.i)
			require.Equal(t, a.seg, seg)
		}
		require.Greater(t, minSeg, prevMax, "a restarted spool never reuses a segment id")
		prevMax = s.Sealed()[len(s.Sealed())-1]

		// Remove everything now and then so ids must survive an empty directory.
		if round == 1 {
			for _, id := range s.Sealed() {
				require.NoError(t, s.Remove(id))
			}
		}
		require.NoError(t, s.Close())
	}
}
