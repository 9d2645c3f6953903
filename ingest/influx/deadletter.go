package influx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DeadLetterRecord is one rejected batch, one JSON object per line in the
// dead-letter file. An operator can fix and replay Lines (they are plain line
// protocol, nanosecond precision).
type DeadLetterRecord struct {
	Time   time.Time `json:"time"`   // when it was rejected
	Status int       `json:"status"` // InfluxDB's HTTP status
	Reason string    `json:"reason"` // InfluxDB's message
	Bucket string    `json:"bucket"`
	Lines  []string  `json:"lines"`
}

// DeadLetterFile is the file records of day t (UTC) are appended to. One file
// per day keeps files small and easy to expire.
func DeadLetterFile(dir string, t time.Time) string {
	return filepath.Join(dir, "influx-"+t.UTC().Format("20060102")+".jsonl")
}

// deadLetter appends records durably. Appends are serialised so concurrent
// writers never interleave inside a record.
type deadLetter struct {
	dir string
	mu  sync.Mutex
}

// append writes rec and fsyncs it (and the directory when the file is new)
// before returning, so a rejected batch is on disk before we move on.
func (d *deadLetter) append(rec DeadLetterRecord) (string, error) {
	buf, err := json.Marshal(rec)
	if err != nil {
		return "", fmt.Errorf("encode dead-letter record: %w", err)
	}
	buf = append(buf, '\n')
	path := DeadLetterFile(d.dir, rec.Time)

	d.mu.Lock()
	defer d.mu.Unlock()
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- path is the operator-configured dead-letter dir
	if err != nil {
		return path, fmt.Errorf("open dead-letter file: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		return path, fmt.Errorf("write dead-letter file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return path, fmt.Errorf("fsync dead-letter file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return path, fmt.Errorf("close dead-letter file %s: %w", path, err)
	}
	if created {
		if err := syncDir(d.dir); err != nil {
			return path, err
		}
	}
	return path, nil
}

// syncDir makes a newly created file's directory entry durable.
func syncDir(dir string) error {
	f, err := os.Open(dir) // #nosec G304 -- operator-configured directory
	if err != nil {
		return fmt.Errorf("open dead-letter dir: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync dead-letter dir: %w", err)
	}
	return nil
}
