// Package sketch is the stored form of StorePulse's HyperLogLog distinct-count
// sketches (docs/schema.md, "Distinct counts"): base64 (standard alphabet,
// padded) of github.com/axiomhq/hyperloglog Sketch.MarshalBinary. The ingest
// service writes it and the datasource reads and merges it.
package sketch

import (
	"encoding/base64"
	"fmt"

	"github.com/axiomhq/hyperloglog"
)

// Encode is the stored form of sk (field schema.FieldSketch).
func Encode(sk *hyperloglog.Sketch) (string, error) {
	b, err := sk.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("encode sketch: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Decode parses the stored form of a sketch.
func Decode(s string) (*hyperloglog.Sketch, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode sketch: %w", err)
	}
	sk := &hyperloglog.Sketch{}
	if err := sk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("decode sketch: %w", err)
	}
	return sk, nil
}

// Union merges stored sketches into one distinct count. The zero Union counts
// nothing (estimate 0). It is not safe for concurrent use.
type Union struct {
	sk *hyperloglog.Sketch
	n  int
	// lone is the stored form of the only sketch added so far, when its
	// estimate est was given: it is decoded only once another sketch joins
	// (a cached window read by a wall screen every few seconds is counted
	// without decoding it and summing its 16,384 registers again).
	lone string
	est  uint64
}

// AddEncoded decodes s and merges it.
func (u *Union) AddEncoded(s string) error {
	if err := u.materialize(); err != nil {
		return err
	}
	sk, err := Decode(s)
	if err != nil {
		return err
	}
	if u.sk == nil {
		// A freshly decoded sketch belongs to nobody else: it becomes the
		// union as it is, instead of being merged into an empty one (the
		// costly part of reading a window that holds a single sketch).
		u.sk, u.n = sk, 1
		return nil
	}
	return u.Add(sk)
}

// AddEncodedEstimate is AddEncoded of a sketch whose estimate is known
// (0: not known). Alone in the union it is kept encoded and its estimate is
// the union's.
func (u *Union) AddEncodedEstimate(s string, estimate uint64) error {
	if estimate == 0 || u.n > 0 {
		return u.AddEncoded(s)
	}
	u.lone, u.est, u.n = s, estimate, 1
	return nil
}

// materialize decodes a lone sketch kept encoded.
func (u *Union) materialize() error {
	if u.lone == "" {
		return nil
	}
	sk, err := Decode(u.lone)
	if err != nil {
		return err
	}
	u.sk, u.lone, u.est = sk, "", 0
	return nil
}

// Add merges sk (which must not be modified afterwards).
func (u *Union) Add(sk *hyperloglog.Sketch) error {
	if err := u.materialize(); err != nil {
		return err
	}
	u.n++
	if u.sk == nil {
		u.sk = hyperloglog.New14()
	}
	if err := u.sk.Merge(sk); err != nil {
		return fmt.Errorf("merge sketch: %w", err)
	}
	return nil
}

// Merge merges another union into u.
func (u *Union) Merge(o *Union) error {
	if o == nil {
		return nil
	}
	if err := o.materialize(); err != nil {
		return err
	}
	if o.sk == nil {
		return nil
	}
	return u.Add(o.sk)
}

// Encode is the stored form of the union of everything merged (an empty
// sketch for the zero Union), e.g. to keep a merged sketch.
func (u *Union) Encode() (string, error) {
	if u.lone != "" {
		return u.lone, nil
	}
	if u.sk == nil {
		return Encode(hyperloglog.New14())
	}
	return Encode(u.sk)
}

// Sketches is the number of sketches merged.
func (u *Union) Sketches() int { return u.n }

// Estimate is the distinct count of everything merged.
func (u *Union) Estimate() uint64 {
	if u.lone != "" {
		return u.est
	}
	if u.sk == nil {
		return 0
	}
	return u.sk.Estimate()
}
