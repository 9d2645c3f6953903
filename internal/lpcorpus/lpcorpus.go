// Package lpcorpus reads the decode cases of InfluxData's public
// line-protocol corpus (github.com/influxdata/line-protocol-corpus, MIT
// licence, Copyright (c) 2021 InfluxData Inc.; the test corpus of
// github.com/influxdata/line-protocol/v2) straight from the Go module cache,
// so the repository keeps none of its 1.2 MB. Only the inputs are used
// (text, precision, source): ingest/parse's conformance test asks a real
// InfluxDB 1.8 for the verdicts.
package lpcorpus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

// Module is the corpus's module at the version go.sum pins.
const Module = "github.com/influxdata/line-protocol-corpus@v0.0.0-20210922080147-aa28ccfb8937"

// Case is one decode input.
type Case struct {
	Key       string `json:"key"`
	Source    string `json:"source"`
	Precision string `json:"precision"` // ns, us, ms or s
	Text      []byte `json:"-"`
}

var precisions = map[string]string{"1ns": "ns", "1µs": "us", "1ms": "ms", "1s": "s"}

// Path downloads the module if needed (`go mod download`, through the Go
// module proxy, checked against go.sum) and returns its corpus.json.
func Path(ctx context.Context, goBin string) (string, error) {
	if goBin == "" {
		goBin = "go"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "mod", "download", "-json", Module).Output() // #nosec G204 -- fixed module
	if err != nil {
		return "", fmt.Errorf("lpcorpus: go mod download %s: %w", Module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("lpcorpus: go mod download: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("lpcorpus: go mod download %s: %s", Module, m.Error)
	}
	return filepath.Join(m.Dir, "corpus.json"), nil
}

// Load reads the decode cases of corpus.json at path, sorted by key.
func Load(path string) ([]Case, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the module cache's file
	if err != nil {
		return nil, fmt.Errorf("lpcorpus: %w", err)
	}
	var c struct {
		Decode map[string]struct {
			Input struct {
				Key            string          `json:"key"`
				Text           json.RawMessage `json:"text"`
				Precision      string          `json:"precision"`
				Implementation string          `json:"implementation"`
			} `json:"input"`
		} `json:"decode"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("lpcorpus: decode %s: %w", path, err)
	}
	cases := make([]Case, 0, len(c.Decode))
	for _, d := range c.Decode {
		text, err := decodeText(d.Input.Text)
		if err != nil {
			return nil, fmt.Errorf("lpcorpus: case %s: %w", d.Input.Key, err)
		}
		p, ok := precisions[d.Input.Precision]
		if !ok {
			return nil, fmt.Errorf("lpcorpus: case %s: unknown precision %q", d.Input.Key, d.Input.Precision)
		}
		cases = append(cases, Case{Key: d.Input.Key, Source: "line-protocol-corpus/" + d.Input.Implementation, Precision: p, Text: text})
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Key < cases[j].Key })
	return cases, nil
}

// decodeText reads a case's text: a JSON string, or {"binary": base64}.
func decodeText(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s), nil
	}
	var b struct {
		Binary []byte `json:"binary"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("text is neither a string nor binary: %w", err)
	}
	return b.Binary, nil
}
