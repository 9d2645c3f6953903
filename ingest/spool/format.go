package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// On-disk layout of a segment file:
//
//	header: magic "SPSG" | version uint16 | reserved uint16 | segment id uint64   (16 bytes, little endian)
//	frame*: length uint32 | crc uint32 | payload[length]
//
// The frame CRC (CRC-32C) covers the four length bytes and the payload, so a
// torn or bit-flipped length is detected as well as a damaged payload.
const (
	headerSize     = 16
	frameHeader    = 8
	formatVersion  = 1
	segmentSuffix  = ".seg"
	counterName    = "next_segment"
	lockName       = "LOCK"
	tmpSuffix      = ".tmp"
	maxRecordBytes = 1 << 30
)

var magic = [4]byte{'S', 'P', 'S', 'G'}

func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

func segmentName(id SegmentID) string {
	// 11 digits hold every id below 60e9, so names sort in id order.
	return fmt.Sprintf("%011d%s", uint64(id), segmentSuffix)
}

func parseSegmentName(name string) (SegmentID, bool) {
	base, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || base == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return SegmentID(n), true
}

// flagSalvaged in the header's reserved field marks a segment rewritten by
// Quarantine: all of it is acknowledged data, whatever the commit file says.
const flagSalvaged uint16 = 1

func appendHeader(dst []byte, id SegmentID) []byte { return appendHeaderFlags(dst, id, 0) }

func appendHeaderFlags(dst []byte, id SegmentID, flags uint16) []byte {
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint16(dst, flags)
	return binary.LittleEndian.AppendUint64(dst, uint64(id))
}

// salvaged reports whether a valid header carries flagSalvaged.
func salvaged(b []byte, id SegmentID) bool {
	return checkHeader(b, id) == nil && binary.LittleEndian.Uint16(b[6:])&flagSalvaged != 0
}

// checkHeader reports why b (at least headerSize bytes) is not the header of
// segment id, or nil.
func checkHeader(b []byte, id SegmentID) error {
	if len(b) < headerSize {
		return fmt.Errorf("short header (%d bytes)", len(b))
	}
	if [4]byte(b[:4]) != magic {
		return fmt.Errorf("bad magic %q", b[:4])
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != formatVersion {
		return fmt.Errorf("unsupported version %d", v)
	}
	if got := SegmentID(binary.LittleEndian.Uint64(b[8:])); got != id {
		return fmt.Errorf("header names segment %d", got)
	}
	return nil
}

func frameCRC(tab *crc32.Table, lenBytes, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, tab, lenBytes), tab, payload)
}

func appendFrame(dst []byte, tab *crc32.Table, rec []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec))) //nolint:gosec // len checked against maxRecordBytes by Append
	dst = binary.LittleEndian.AppendUint32(dst, frameCRC(tab, dst[start:start+4], rec))
	return append(dst, rec...)
}

// frameAt returns the payload length of a valid frame at data[off:], or ok=false
// when the frame is incomplete or fails its CRC.
func frameAt(tab *crc32.Table, data []byte, off int) (n int, ok bool) {
	if len(data)-off < frameHeader {
		return 0, false
	}
	n = int(binary.LittleEndian.Uint32(data[off:]))
	if n > maxRecordBytes || n > len(data)-off-frameHeader {
		return 0, false
	}
	want := binary.LittleEndian.Uint32(data[off+4:])
	if frameCRC(tab, data[off:off+4], data[off+frameHeader:off+frameHeader+n]) != want {
		return 0, false
	}
	return n, true
}

// scanFrames walks the frames of a whole segment image and returns the offset
// of the first byte that is not part of a valid frame (len(data) when all of
// it is valid) and the number of valid records before it.
func scanFrames(tab *crc32.Table, data []byte, id SegmentID) (end, records int) {
	if checkHeader(data, id) != nil {
		return 0, 0
	}
	off := headerSize
	for off < len(data) {
		n, ok := frameAt(tab, data, off)
		if !ok {
			return off, records
		}
		off += frameHeader + n
		records++
	}
	return off, records
}

// validFrameAfter reports the offset of any valid frame starting after off.
// A torn tail is garbage up to the end of the file; a valid frame behind the
// damage means records that were written (and maybe acknowledged) later, so the
// damage is mid-file corruption that must not be silently cut.
func validFrameAfter(tab *crc32.Table, data []byte, off int) (int, bool) {
	for o := off + 1; o+frameHeader <= len(data); o++ {
		if _, ok := frameAt(tab, data, o); ok {
			return o, true
		}
	}
	return 0, false
}

// The commit file records how much of the active segment was acknowledged:
// after the frames of a group commit are fsynced, and before any of them is
// acknowledged, a commit record naming the segment and its acknowledged length
// is written and fsynced. Two slots are used alternately, so a write torn by a
// crash leaves the previous record intact (a torn record was never followed by
// an acknowledgement). Recovery thereby tells a torn, unacknowledged tail
// (bytes past the acknowledged length) from damage to acknowledged data.
//
//	slot: magic "SPCM" | seq uint64 | segment uint64 | length uint64 | crc uint32 (32 bytes)
const (
	commitName     = "COMMIT"
	commitSlotSize = 32
	commitSlotGap  = 512 // slots in different sectors
)

var commitMagic = [4]byte{'S', 'P', 'C', 'M'}

type commitRecord struct {
	seq    uint64
	seg    SegmentID
	length int64
}

func appendCommitRecord(dst []byte, tab *crc32.Table, r commitRecord) []byte {
	start := len(dst)
	dst = append(dst, commitMagic[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, r.seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.seg))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.length)) //nolint:gosec // a file size
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], tab))
}

// parseCommitFile returns the newest valid record of a commit file image.
func parseCommitFile(tab *crc32.Table, b []byte) (commitRecord, bool) {
	var best commitRecord
	found := false
	for _, off := range []int{0, commitSlotGap} {
		if len(b) < off+commitSlotSize {
			continue
		}
		slot := b[off : off+commitSlotSize]
		if [4]byte(slot[:4]) != commitMagic || crc32.Checksum(slot[:commitSlotSize-4], tab) != binary.LittleEndian.Uint32(slot[commitSlotSize-4:]) {
			continue
		}
		r := commitRecord{
			seq:    binary.LittleEndian.Uint64(slot[4:]),
			seg:    SegmentID(binary.LittleEndian.Uint64(slot[12:])),
			length: int64(binary.LittleEndian.Uint64(slot[20:])), //nolint:gosec // written from an int64
		}
		if !found || r.seq > best.seq {
			best, found = r, true
		}
	}
	return best, found
}

// Range is a half-open byte range of a segment file.
type Range struct {
	Offset int64 `json:"offset"`
	Bytes  int64 `json:"bytes"`
}

// salvage walks a segment image and returns the byte ranges of every valid
// frame, in order, and the damaged ranges between them. After damage it
// resynchronises on the next offset where a frame passes its CRC. A bad
// header is a damaged range too: the frames after it are still salvaged.
func salvage(tab *crc32.Table, data []byte, id SegmentID) (frames, damaged []Range) {
	off := headerSize
	if checkHeader(data, id) != nil {
		if len(data) <= headerSize {
			return nil, []Range{{0, int64(len(data))}}
		}
		damaged = append(damaged, Range{0, headerSize})
	}
	for off < len(data) {
		n, ok := frameAt(tab, data, off)
		if ok {
			frames = append(frames, Range{int64(off), int64(frameHeader + n)})
			off += frameHeader + n
			continue
		}
		next, found := validFrameAfter(tab, data, off)
		if !found {
			next = len(data)
		}
		if k := len(damaged); k > 0 && damaged[k-1].Offset+damaged[k-1].Bytes == int64(off) {
			damaged[k-1].Bytes += int64(next - off)
		} else {
			damaged = append(damaged, Range{int64(off), int64(next - off)})
		}
		off = next
	}
	return frames, damaged
}
