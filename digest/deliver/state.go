package deliver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/storepulse/storepulse/internal/atomicfile"
)

// StateFile is the name of the delivery state in Service.StateDir.
const StateFile = "deliveries.json"

// stateVersion is the format of StateFile.
const stateVersion = 1

// maxStateBytes bounds the state file read at start.
const maxStateBytes = 1 << 20

// listState is what a list's scheduled runs came to.
type listState struct {
	// Done: every scheduled run at or before it is handled — delivered (a
	// channel that failed kept its payload in failed_dir), or before the
	// list was first served.
	Done time.Time `json:"done"`
	// Running is a run that started and did not finish (the process
	// stopped in the middle of it): it is never delivered again.
	Running time.Time `json:"running,omitzero"`
}

// state is the delivery state of every list, kept in StateDir/StateFile.
type state struct {
	mu    sync.Mutex
	path  string // "": not kept (no StateDir)
	Lists map[string]*listState
}

type stateJSON struct {
	Version int                   `json:"version"`
	Lists   map[string]*listState `json:"lists"`
}

// loadState reads the state of dir ("" : an in-memory state, nothing kept).
func loadState(dir string) (*state, error) {
	st := &state{Lists: map[string]*listState{}}
	if dir == "" {
		return st, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("deliver: state_dir: %w", err)
	}
	st.path = filepath.Join(dir, StateFile)
	f, err := os.Open(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deliver: state: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	var sj stateJSON
	dec := json.NewDecoder(&limitedReader{f, maxStateBytes})
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sj); err != nil {
		return nil, fmt.Errorf("deliver: state %s is not readable (%w): move it aside to start again (missed runs are then not caught up once)", st.path, err)
	}
	if sj.Version != stateVersion {
		return nil, fmt.Errorf("deliver: state %s has version %d, this version reads %d", st.path, sj.Version, stateVersion)
	}
	for name, ls := range sj.Lists {
		if ls != nil {
			st.Lists[name] = ls
		}
	}
	return st, nil
}

type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxStateBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}

// list is the state of list name (nil: never served).
func (st *state) list(name string) *listState {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ls := st.Lists[name]; ls != nil {
		c := *ls
		return &c
	}
	return nil
}

// set records the state of list name and writes the file.
func (st *state) set(name string, ls listState) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.Lists[name] = &ls
	return st.saveLocked()
}

// saveLocked writes the state atomically: a temporary file, fsync, rename,
// fsync of the directory.
func (st *state) saveLocked() error {
	if st.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(stateJSON{Version: stateVersion, Lists: st.Lists}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(st.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("deliver: state: %w", err)
	}
	return nil
}
