package consolidate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/storepulse/storepulse/internal/atomicfile"
)

// lateSet holds the late hours reported by Written, per store ("" for
// series without one), as sorted, disjoint spans of whole hours. A backfill
// or a history import of a store touches thousands of consecutive hours,
// which stay one span or a few: the set's size follows the gaps, not the
// hours.
type lateSet map[string][]span

// span is the hours in [From, To): unix ns of hour starts.
type span struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// add puts the hour starting at h into store's spans, merging it with a
// span it touches; it reports whether the set changed.
func (s lateSet) add(store string, h int64) bool {
	sp := s[store]
	end := h + int64(time.Hour)
	i := sort.Search(len(sp), func(i int) bool { return sp[i].To >= h })
	switch {
	case i < len(sp) && sp[i].From <= h && end <= sp[i].To:
		return false
	case i < len(sp) && sp[i].From <= end:
		sp[i].From, sp[i].To = min(sp[i].From, h), max(sp[i].To, end)
		for i+1 < len(sp) && sp[i+1].From <= sp[i].To {
			sp[i].To = max(sp[i].To, sp[i+1].To)
			sp = slices.Delete(sp, i+1, i+2)
		}
	default:
		sp = slices.Insert(sp, i, span{From: h, To: end})
	}
	s[store] = sp
	return true
}

// lateState is the content of Options.StateFile.
type lateState struct {
	Version  int     `json:"version"`
	Ingester string  `json:"ingester"`
	Late     lateSet `json:"late"`
}

const lateStateVersion = 1

// loadState reads the late hours kept by a Defer before a restart. A file
// that cannot be read as one is moved aside and reported: the hours it
// held are then unknown (docs/operations.md says how to consolidate again).
func (c *Consolidator) loadState() error {
	if c.o.StateFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.o.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("consolidate: read %s: %w", c.o.StateFile, err)
	}
	var st lateState
	err = json.Unmarshal(data, &st)
	switch {
	case err == nil && st.Version != lateStateVersion:
		err = fmt.Errorf("version %d, want %d", st.Version, lateStateVersion)
	case err == nil && st.Ingester != c.o.Ingester:
		err = fmt.Errorf("written by ingester %q, this is %q", st.Ingester, c.o.Ingester)
	}
	if err == nil {
		for store, spans := range st.Late {
			for _, sp := range spans {
				if sp.From%int64(time.Hour) != 0 || sp.To%int64(time.Hour) != 0 || sp.To <= sp.From {
					err = fmt.Errorf("store %q: span [%d, %d) is not whole hours", store, sp.From, sp.To)
				}
			}
		}
	}
	if err != nil {
		aside := c.o.StateFile + ".damaged"
		if rerr := os.Rename(c.o.StateFile, aside); rerr != nil {
			return fmt.Errorf("consolidate: %s is damaged (%w) and could not be moved aside: %w", c.o.StateFile, err, rerr)
		}
		c.log.Error("the list of late hours still to consolidate again is damaged and was moved aside: hours it held may miss late events in the hourly and daily series until they are consolidated again (docs/operations.md, Consolidated history)",
			"file", aside, "err", err)
		return nil
	}
	for store, spans := range st.Late {
		for _, sp := range spans {
			for h := sp.From; h < sp.To; h += int64(time.Hour) {
				c.late.add(store, h)
			}
		}
	}
	c.saved = true
	return nil
}

// Defer keeps the late hours reported so far in Options.StateFile (written
// atomically), so that the segments that reported them may leave the spool
// before Settle consolidates them again: a restart reads them back. It lets
// the flusher consolidate a backfill once, after it arrived, instead of at
// every sketch flush while it arrives. Without a state file it fails, and
// the segments must wait for Settle.
func (c *Consolidator) Defer() error {
	if c.o.StateFile == "" {
		return errors.New("consolidate: no state file to keep late hours in")
	}
	if !c.changed {
		return nil
	}
	data, err := json.Marshal(lateState{Version: lateStateVersion, Ingester: c.o.Ingester, Late: c.late})
	if err != nil {
		return fmt.Errorf("consolidate: encode late hours: %w", err)
	}
	if err := atomicfile.Write(c.o.StateFile, data, 0o600); err != nil {
		return fmt.Errorf("consolidate: keep late hours: %w", err)
	}
	c.changed, c.saved = false, true
	return nil
}

// Pending reports whether late hours wait for Settle.
func (c *Consolidator) Pending() bool { return len(c.late) > 0 }

// settled forgets the late hours after Settle consolidated them, and the
// state file that kept them (a crash before that only redoes them).
func (c *Consolidator) settled() error {
	clear(c.late)
	c.changed = false
	if !c.saved {
		return nil
	}
	if err := os.Remove(c.o.StateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("consolidate: remove %s: %w", c.o.StateFile, err)
	}
	c.saved = false
	return nil
}
