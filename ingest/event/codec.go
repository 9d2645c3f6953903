package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The spool record encoding of a Batch (version 1), all integers varint or
// uvarint as in encoding/binary, strings as uvarint length then bytes:
//
//	record  = version:byte nEvents:uvarint nPoints:uvarint event* point*
//	event   = type:byte time:varint id:str store channel category campaign
//	          creative reason competitor user visitor order sku:str
//	          customer:byte ticketStatus:byte flags:byte
//	          present:uvarint (bit i: number i is non-zero) float64bits:8 bytes LE per present number
//	point   = measurement:str time:varint id:str rollup:byte
//	          nTags:uvarint (key:str value:str)* nFields:uvarint field*
//	field   = key:str kind:byte value
//	value   = float: 8 bytes LE | int: varint | uint: uvarint | string: str | bool: byte
//
// Zero numbers are left out (bitmask) because most event types use two or
// three of the nine.
const codecVersion = 1

// Event flag bits.
const (
	flagAddedToCart = 1 << iota
	flagConverted
	flagMask = flagAddedToCart | flagConverted
)

// numEventNumbers is the number of float64 members of Event.
const numEventNumbers = 9

// Minimum encoded sizes, used to bound counts before allocating.
const (
	minEventLen = 1 + 1 + 12 + 3 + 1 // type, time, 12 empty strings, 3 bytes, present
	minPointLen = 1 + 1 + 1 + 1 + 1 + 1
	minTagLen   = 2
	minFieldLen = 3
)

// ErrCorrupt is wrapped by every DecodeBatch error.
var ErrCorrupt = errors.New("corrupt batch record")

// AppendBatch appends the binary encoding of b to dst and returns it.
func AppendBatch(dst []byte, b *Batch) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.Events)))
	dst = binary.AppendUvarint(dst, uint64(len(b.Points)))
	for i := range b.Events {
		dst = appendEvent(dst, &b.Events[i])
	}
	for i := range b.Points {
		dst = appendPoint(dst, &b.Points[i])
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	if len(s) < 0x80 {
		dst = append(dst, byte(len(s))) // #nosec G115 -- len(s) < 0x80
		return append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendEvent(dst []byte, e *Event) []byte {
	dst = append(dst, byte(e.Type))
	dst = binary.AppendVarint(dst, e.Time)
	for _, s := range [...]string{e.ID, e.Store, e.Channel, e.Category, e.Campaign, e.Creative,
		e.Reason, e.Competitor, e.User, e.Visitor, e.Order, e.SKU} {
		dst = appendString(dst, s)
	}
	var flags byte
	if e.AddedToCart {
		flags |= flagAddedToCart
	}
	if e.Converted {
		flags |= flagConverted
	}
	dst = append(dst, byte(e.Customer), byte(e.TicketStatus), flags)
	nums := eventNumbers(e)
	var present uint64
	for i, v := range nums {
		// Compare bits, not values: -0 must survive the round trip.
		if math.Float64bits(*v) != 0 {
			present |= 1 << i
		}
	}
	dst = binary.AppendUvarint(dst, present)
	for i, v := range nums {
		if present&(1<<i) != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(*v))
		}
	}
	return dst
}

// eventNumbers lists pointers to e's numbers in encoding order.
func eventNumbers(e *Event) [numEventNumbers]*float64 {
	return [...]*float64{&e.Amount, &e.Items, &e.Count, &e.PageViews, &e.DurationS,
		&e.FirstResponseS, &e.ResolutionS, &e.OwnPrice, &e.CompetitorPrice}
}

func appendPoint(dst []byte, p *Point) []byte {
	dst = appendString(dst, p.Measurement)
	dst = binary.AppendVarint(dst, p.Time)
	dst = appendString(dst, p.ID)
	if p.Rollup {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
	for _, t := range p.Tags {
		dst = appendString(dst, t.Key)
		dst = appendString(dst, t.Value)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
	for i := range p.Fields {
		f := &p.Fields[i]
		dst = appendString(dst, f.Key)
		dst = append(dst, byte(f.Kind))
		switch f.Kind {
		case FieldFloat:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f.Float))
		case FieldInt:
			dst = binary.AppendVarint(dst, f.Int)
		case FieldUint:
			dst = binary.AppendUvarint(dst, f.Uint)
		case FieldString:
			dst = appendString(dst, f.Str)
		case FieldBool:
			if f.Bool {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		}
	}
	return dst
}

// decoder reads a record. src is one string copy of the whole record, so
// every decoded string is a substring of it: one allocation per record instead
// of one per string. The first error sticks in err and stops all reading, so
// the field-by-field code below stays flat.
type decoder struct {
	src string
	off int
	err error
}

func (d *decoder) fail(what string) { d.failAt(d.off, what) }

// failAt records the first error, at offset off, and stops reading.
func (d *decoder) failAt(off int, what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrCorrupt, what, off)
		d.off = len(d.src) // every later read fails
	}
}

func (d *decoder) byte(what string) byte {
	if d.off >= len(d.src) {
		d.fail(what + ": unexpected end")
		return 0
	}
	c := d.src[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	// Fast path: most varints here (lengths, counts, masks) are one byte.
	if d.off < len(d.src) && d.src[d.off] < 0x80 {
		d.off++
		return uint64(d.src[d.off-1])
	}
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.src) {
			d.fail(what + ": unexpected end")
			return 0
		}
		c := d.src[d.off]
		d.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<s
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	d.fail(what + ": varint overflows 64 bits")
	return 0
}

func (d *decoder) varint(what string) int64 {
	ux := d.uvarint(what)
	x := int64(ux >> 1) // #nosec G115 -- zig-zag decoding, as in encoding/binary
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a count and bounds it by the input left, given each item's
// minimum encoded size, so hostile counts cannot cause huge allocations.
func (d *decoder) count(what string, minLen int) int {
	n := d.uvarint(what)
	if n > uint64(len(d.src)-d.off)/uint64(minLen) { // #nosec G115 -- off <= len
		d.fail(fmt.Sprintf("%s %d exceeds the remaining input", what, n))
		return 0
	}
	return int(n) // #nosec G115 -- bounded by len(src) above
}

func (d *decoder) string(what string) string {
	// Fast path: a short string whose one-byte length and bytes are all there.
	if d.off < len(d.src) {
		if n := int(d.src[d.off]); n < 0x80 && n < len(d.src)-d.off {
			s := d.src[d.off+1 : d.off+1+n]
			d.off += 1 + n
			return s
		}
	}
	n := d.uvarint(what)
	if n > uint64(len(d.src)-d.off) { // #nosec G115 -- off <= len
		d.fail(fmt.Sprintf("%s: length %d exceeds the remaining input", what, n))
		return ""
	}
	s := d.src[d.off : d.off+int(n)] // #nosec G115 -- bounded above
	d.off += int(n)                  // #nosec G115 -- bounded above
	return s
}

func (d *decoder) float(what string) float64 {
	if len(d.src)-d.off < 8 {
		d.fail(what + ": unexpected end")
		return 0
	}
	s := d.src[d.off : d.off+8]
	d.off += 8
	bits := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return math.Float64frombits(bits)
}

// DecodeBatch decodes a record written by AppendBatch. It never panics on any
// input; errors wrap ErrCorrupt and name the byte offset. Decoded strings
// share one copy of src, so src may be reused afterwards.
func DecodeBatch(src []byte) (Batch, error) {
	d := decoder{src: string(src)}
	if v := d.byte("version"); d.err == nil && v != codecVersion {
		d.failAt(d.off-1, fmt.Sprintf("unknown version %d", v))
	}
	ne := d.count("event count", minEventLen)
	np := d.count("point count", minPointLen)
	if d.err != nil {
		return Batch{}, d.err
	}
	var b Batch
	if ne > 0 {
		b.Events = make([]Event, ne)
		for i := range b.Events {
			// Decoding into a local and copying once costs one bulk write
			// barrier instead of one per string while the GC runs.
			var e Event
			if d.event(&e); d.err != nil {
				return Batch{}, fmt.Errorf("event %d: %w", i, d.err)
			}
			b.Events[i] = e
		}
	}
	if np > 0 {
		b.Points = make([]Point, np)
		for i := range b.Points {
			if d.point(&b.Points[i]); d.err != nil {
				return Batch{}, fmt.Errorf("point %d: %w", i, d.err)
			}
		}
	}
	if d.off != len(d.src) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.src)-d.off))
		return Batch{}, d.err
	}
	return b, nil
}

func (d *decoder) event(e *Event) {
	if t := d.byte("type"); t == byte(TypeUnknown) || t >= byte(typeEnd) {
		d.failAt(d.off-1, fmt.Sprintf("unknown event type %d", t))
		return
	} else {
		e.Type = Type(t)
	}
	e.Time = d.varint("time")
	e.ID = d.string("id")
	e.Store = d.string("store")
	e.Channel = d.string("channel")
	e.Category = d.string("category")
	e.Campaign = d.string("campaign")
	e.Creative = d.string("creative")
	e.Reason = d.string("reason")
	e.Competitor = d.string("competitor")
	e.User = d.string("user")
	e.Visitor = d.string("visitor")
	e.Order = d.string("order")
	e.SKU = d.string("sku")
	if d.err != nil {
		return
	}
	if c := d.byte("customer"); c <= byte(CustomerReturning) {
		e.Customer = Customer(c)
	} else {
		d.failAt(d.off-1, fmt.Sprintf("unknown customer type %d", c))
	}
	if ts := d.byte("ticket status"); ts <= byte(TicketResolved) {
		e.TicketStatus = TicketStatus(ts)
	} else {
		d.failAt(d.off-1, fmt.Sprintf("unknown ticket status %d", ts))
	}
	flags := d.byte("flags")
	if flags&^flagMask != 0 {
		d.failAt(d.off-1, fmt.Sprintf("unknown flags %#x", flags))
	}
	e.AddedToCart = flags&flagAddedToCart != 0
	e.Converted = flags&flagConverted != 0
	maskAt := d.off
	present := d.uvarint("number mask")
	if present>>numEventNumbers != 0 {
		d.failAt(maskAt, fmt.Sprintf("unknown number mask %#x", present))
	}
	if present == 0 || d.err != nil {
		return
	}
	for i, v := range eventNumbers(e) {
		if present&(1<<i) != 0 {
			*v = d.float("number")
		}
	}
}

func (d *decoder) point(p *Point) {
	p.Measurement = d.string("measurement")
	p.Time = d.varint("time")
	p.ID = d.string("id")
	switch r := d.byte("rollup"); r {
	case 0, 1:
		p.Rollup = r == 1
	default:
		d.failAt(d.off-1, fmt.Sprintf("bad rollup flag %d", r))
	}
	if nt := d.count("tag count", minTagLen); nt > 0 {
		p.Tags = make([]Tag, nt)
		for i := range p.Tags {
			p.Tags[i].Key = d.string("tag key")
			p.Tags[i].Value = d.string("tag value")
		}
	}
	if nf := d.count("field count", minFieldLen); nf > 0 {
		p.Fields = make([]Field, nf)
		for i := range p.Fields {
			d.field(&p.Fields[i])
		}
	}
}

func (d *decoder) field(f *Field) {
	f.Key = d.string("field key")
	k := d.byte("field kind")
	f.Kind = FieldKind(k)
	switch f.Kind {
	case FieldFloat:
		f.Float = d.float("float field")
	case FieldInt:
		f.Int = d.varint("int field")
	case FieldUint:
		f.Uint = d.uvarint("uint field")
	case FieldString:
		f.Str = d.string("string field")
	case FieldBool:
		switch c := d.byte("bool field"); c {
		case 0, 1:
			f.Bool = c == 1
		default:
			d.failAt(d.off-1, fmt.Sprintf("bad bool %d", c))
		}
	default:
		d.failAt(d.off-1, fmt.Sprintf("unknown field kind %d", k))
	}
}
