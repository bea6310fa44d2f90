package zparts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/klauspost/compress/zstd"
)

// ErrCorrupt means bytes given to DecodeBlock are not an encoded Block.
var ErrCorrupt = errors.New("corrupt block")

// The wire form of a Block, version 1:
//
//	magic   "ZP"
//	version 1
//	forms   bit e set for each Encoding e present; other bits zero
//	uvarint raw length
//	uint32  CRC-32 (IEEE) of the raw part, little endian
//	for each present form, in Encoding order: uvarint length, bytes
//	uint32  CRC-32 (Castagnoli) of everything before it, little endian
const (
	wireVersion = 1
	wireHead    = 4 // magic, version, forms
	wireTail    = 4
	// wireMaxLen bounds the raw length a decoded block may claim.
	wireMaxLen = 1 << 40
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendBinary appends the wire form of b to dst, for storing it, e.g. in
// Redis next to the cache entry it was built from.
func (b *Block) AppendBinary(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 'Z', 'P', wireVersion, b.has)
	dst = binary.AppendUvarint(dst, uint64(b.n))
	dst = binary.LittleEndian.AppendUint32(dst, b.crc)
	for e := range numEncodings {
		if b.has&(1<<e) != 0 {
			dst = binary.AppendUvarint(dst, uint64(len(b.form[e])))
			dst = append(dst, b.form[e]...)
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// MarshalBinary returns the wire form of b.
func (b *Block) MarshalBinary() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, b.wireSize()))
}

func (b *Block) wireSize() int {
	n := wireHead + binary.MaxVarintLen64 + 4 + wireTail
	for e := range numEncodings {
		n += binary.MaxVarintLen64 + len(b.form[e])
	}
	return n
}

// UnmarshalBinary decodes the wire form in data into b, copying it.
func (b *Block) UnmarshalBinary(data []byte) error {
	d, err := DecodeBlock(bytes.Clone(data))
	if err != nil {
		return err
	}
	*b = *d
	return nil
}

// DecodeBlock decodes a Block from its wire form. The Block's forms alias
// data, which must not be modified afterwards. It checks the structure and
// the checksum and returns an error wrapping ErrCorrupt for anything else.
func DecodeBlock(data []byte) (*Block, error) {
	if len(data) < wireHead+wireTail {
		return nil, corrupt("%d bytes is too short", len(data))
	}
	if data[0] != 'Z' || data[1] != 'P' {
		return nil, corrupt("bad magic %q", data[:2])
	}
	if data[2] != wireVersion {
		return nil, corrupt("unsupported version %d", data[2])
	}
	body, tail := data[:len(data)-wireTail], data[len(data)-wireTail:]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(tail); got != want {
		return nil, corrupt("checksum %08x, want %08x", got, want)
	}
	b := &Block{has: data[3]}
	if b.has>>numEncodings != 0 {
		return nil, corrupt("unknown forms %#x", b.has)
	}
	p := body[wireHead:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > wireMaxLen || n > math.MaxInt {
		return nil, corrupt("bad raw length")
	}
	b.n = int(n)
	p = p[k:]
	if len(p) < 4 {
		return nil, corrupt("truncated crc")
	}
	b.crc = binary.LittleEndian.Uint32(p)
	p = p[4:]
	for e := range numEncodings {
		if b.has&(1<<e) == 0 {
			continue
		}
		m, k := binary.Uvarint(p)
		if k <= 0 || m > uint64(len(p)-k) {
			return nil, corrupt("bad %s form length", e)
		}
		form := p[k : k+int(m) : k+int(m)]
		p = p[k+int(m):]
		if err := checkForm(e, form, b.n); err != nil {
			return nil, err
		}
		b.form[e] = form
	}
	if len(p) != 0 {
		return nil, corrupt("%d trailing bytes", len(p))
	}
	b.shift = crcShift(uint64(b.n))
	return b, nil
}

// checkForm rejects forms whose size cannot be right for a raw part of n
// bytes. It does not decompress.
func checkForm(e Encoding, form []byte, n int) error {
	switch {
	case n == 0 && len(form) != 0:
		return corrupt("%s form of %d bytes for an empty part", e, len(form))
	case n == 0:
		return nil
	case e == Identity && len(form) != n:
		return corrupt("identity form of %d bytes, want %d", len(form), n)
	case e == Gzip && len(form) < 2:
		return corrupt("gzip form of %d bytes", len(form))
	case e == Zstd:
		return checkFrame(form, n)
	}
	return nil
}

// checkFrame checks that form starts with a zstd frame header for n bytes
// that a browser accepts: no dictionary and a window of at most 8 MB.
func checkFrame(form []byte, n int) error {
	var h zstd.Header
	if err := h.Decode(form); err != nil || h.Skippable {
		return corrupt("zstd form without a frame")
	}
	window := h.WindowSize
	if h.SingleSegment {
		window = h.FrameContentSize
	}
	switch {
	case !h.HasFCS || h.FrameContentSize != uint64(n):
		return corrupt("zstd frame content size is not %d", n)
	case h.DictionaryID != 0:
		return corrupt("zstd frame needs dictionary %d", h.DictionaryID)
	case window > maxZstdWindow:
		return corrupt("zstd window of %d bytes exceeds %d", window, maxZstdWindow)
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("zparts: decode block: %w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
