// Command lpcorpus extracts the decode cases of InfluxData's public
// line-protocol corpus (github.com/influxdata/line-protocol-corpus, MIT
// licence; the test corpus of github.com/influxdata/line-protocol/v2) into
// the small JSON-lines file that ingest/parse's conformance test sends to
// StorePulse's parser and to a real InfluxDB 1.8. Only the inputs are kept
// (text, precision, source); the verdicts come from InfluxDB itself.
//
//	go run ./scripts/lpcorpus \
//	  -corpus "$(go env GOMODCACHE)/github.com/influxdata/line-protocol-corpus@v0.0.0-20210922080147-aa28ccfb8937/corpus.json" \
//	  -out ingest/parse/testdata/lpconformance/cases.jsonl
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"unicode/utf8"
)

type corpus struct {
	Decode map[string]struct {
		Input struct {
			Key            string          `json:"key"`
			Text           json.RawMessage `json:"text"`
			Precision      string          `json:"precision"`
			Implementation string          `json:"implementation"`
		} `json:"input"`
	} `json:"decode"`
}

// Case is one line of the output.
type Case struct {
	Key       string `json:"key"`
	Source    string `json:"source"`
	Precision string `json:"precision"`
	Text      string `json:"text,omitempty"`
	Base64    string `json:"base64,omitempty"` // text that is not valid UTF-8
}

var precisions = map[string]string{"1ns": "ns", "1µs": "us", "1ms": "ms", "1s": "s"}

func main() {
	in := flag.String("corpus", "", "path of the corpus's corpus.json")
	out := flag.String("out", "ingest/parse/testdata/lpconformance/cases.jsonl", "output file")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "lpcorpus:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in) // #nosec G304 -- a path given by the developer
	if err != nil {
		return fmt.Errorf("read corpus: %w", err)
	}
	var c corpus
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decode corpus: %w", err)
	}
	var cases []Case
	for _, d := range c.Decode {
		text, err := decodeText(d.Input.Text)
		if err != nil {
			return fmt.Errorf("case %s: %w", d.Input.Key, err)
		}
		p, ok := precisions[d.Input.Precision]
		if !ok {
			return fmt.Errorf("case %s: unknown precision %q", d.Input.Key, d.Input.Precision)
		}
		cs := Case{Key: d.Input.Key, Source: "line-protocol-corpus/" + d.Input.Implementation, Precision: p}
		if utf8.ValidString(text) {
			cs.Text = text
		} else {
			cs.Base64 = base64.StdEncoding.EncodeToString([]byte(text))
		}
		cases = append(cases, cs)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Key < cases[j].Key })
	f, err := os.Create(out) // #nosec G304 -- a path given by the developer
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, cs := range cases {
		if err := enc.Encode(cs); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	fmt.Printf("%d cases written to %s\n", len(cases), out)
	return nil
}

// decodeText reads the corpus's text: a JSON string, or {"binary": base64}.
func decodeText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var b struct {
		Binary []byte `json:"binary"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", fmt.Errorf("text is neither a string nor binary: %w", err)
	}
	return string(b.Binary), nil
}
