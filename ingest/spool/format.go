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

func appendHeader(dst []byte, id SegmentID) []byte {
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	return binary.LittleEndian.AppendUint64(dst, uint64(id))
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
