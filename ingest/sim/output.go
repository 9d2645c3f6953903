package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// AppendNDJSON appends events as NDJSON lines, times written in loc.
func AppendNDJSON(dst []byte, events []Event, loc *time.Location) []byte {
	for i := range events {
		dst = events[i].AppendJSON(dst, loc)
		dst = append(dst, '\n')
	}
	return dst
}

// WriteAll streams every remaining event of g to w as NDJSON, hour by hour,
// calling progress (if not nil) after each hour. It returns the number of
// events written.
func (g *Generator) WriteAll(ctx context.Context, w io.Writer, progress func(done float64, events int64)) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var n int64
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("sim: write events: %w", err)
		}
		evs, ok := g.Next()
		if !ok {
			break
		}
		buf = AppendNDJSON(buf[:0], evs, g.cfg.Location)
		if _, err := bw.Write(buf); err != nil {
			return n, fmt.Errorf("sim: write events: %w", err)
		}
		n += int64(len(evs))
		if progress != nil {
			progress(g.Progress(), n)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("sim: write events: %w", err)
	}
	return n, nil
}

// WriteJSONFile writes v as indented JSON to path (campaigns, targets,
// labels). Times keep the offset they carry.
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: encode %s: %w", path, err)
	}
	b = append(b, '\n')
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	return nil
}
