package rediscache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/zparts"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// The wire form of a composer.Entry in Redis.

// Entry wire format, big endian. Version 1:
//
//	'T' 1 | stored unix ms int64 | maxage ms uint32 | swr ms uint32 | sie ms uint32 |
//	version len uint8 | version | body
//
// Version 2, written when the entry has a Block, adds the block's wire
// form (zparts.Block.AppendBinary) before the body:
//
//	'T' 2 | … as version 1 … | version | block len uint32 | block | body
//
// Version 3, written when the entry has a Meta, adds it, then the block
// (length 0 when there is none):
//
//	'T' 3 | … as version 1 … | version | meta len uint32 | meta | block len uint32 | block | body
//
// where meta is status uint16 | location len uint16 | location |
// assets uint8 × (kind uint8 | path len uint8 | path) | title,
// description, canonical and robots, each len uint16 | text.
//
// All decode; an entry whose block does not decode is read without it.
const entryHeader = 2 + 8 + 4 + 4 + 4 + 1

// ErrBadEntry reports a cached value that cannot be decoded.
var ErrBadEntry = errors.New("bad cache entry")

// AppendEntry encodes e onto dst.
func AppendEntry(dst []byte, e *composer.Entry) []byte {
	v := e.Version
	if len(v) > 255 {
		v = v[:255]
	}
	wire := byte(1)
	switch {
	case !e.Meta.Empty():
		wire = 3
	case e.Block != nil:
		wire = 2
	}
	dst = append(dst, 'T', wire)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Stored.UnixMilli()))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.MaxAge))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.SWR))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.SIE))
	dst = append(dst, byte(len(v)))
	dst = append(dst, v...)
	if wire == 3 {
		at := len(dst)
		dst = appendMeta(append(dst, 0, 0, 0, 0), e.Meta)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	if wire >= 2 {
		if e.Block == nil {
			return append(append(dst, 0, 0, 0, 0), e.Body...)
		}
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		var err error
		if dst, err = e.Block.AppendBinary(dst); err != nil {
			dst = dst[:at+4]
		}
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return append(dst, e.Body...)
}

func appendMeta(dst []byte, m *composer.Meta) []byte {
	text := func(dst []byte, s string, max int) []byte {
		if len(s) > max {
			s = s[:max]
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
		return append(dst, s...)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Status))
	dst = text(dst, m.Location, 2048)
	n := min(len(m.Assets), protocol.MaxAssets)
	dst = append(dst, byte(n))
	for _, a := range m.Assets[:n] {
		p := a.Path
		if len(p) > 255 {
			p = p[:255]
		}
		dst = append(dst, byte(a.Kind), byte(len(p)))
		dst = append(dst, p...)
	}
	for _, s := range [...]string{m.Head.Title, m.Head.Description, m.Head.Canonical, m.Head.Robots} {
		dst = text(dst, s, 4096)
	}
	return dst
}

// decodeMeta reads what appendMeta wrote; ok is false when b is cut short.
func decodeMeta(b []byte) (m *composer.Meta, ok bool) {
	m = new(composer.Meta)
	text := func() string {
		if len(b) < 2 || len(b)-2 < int(binary.BigEndian.Uint16(b)) {
			ok = false
			return ""
		}
		n := int(binary.BigEndian.Uint16(b))
		s := string(b[2 : 2+n])
		b = b[2+n:]
		return s
	}
	if len(b) < 2 {
		return nil, false
	}
	ok = true
	m.Status = int(binary.BigEndian.Uint16(b))
	b = b[2:]
	m.Location = text()
	if !ok || len(b) < 1 {
		return nil, false
	}
	n := int(b[0])
	b = b[1:]
	for range n {
		if len(b) < 2 || len(b)-2 < int(b[1]) {
			return nil, false
		}
		a := protocol.Asset{Kind: protocol.AssetKind(b[0]), Path: string(b[2 : 2+int(b[1])])}
		if (a.Kind == protocol.Stylesheet || a.Kind == protocol.Script) && protocol.ValidAssetPath(a.Path) {
			m.Assets = append(m.Assets, a)
		}
		b = b[2+int(b[1]):]
	}
	m.Head.Title, m.Head.Description, m.Head.Canonical, m.Head.Robots = text(), text(), text(), text()
	if !ok || len(b) != 0 {
		return nil, false
	}
	return m, true
}

// DecodeEntry decodes a value written by AppendEntry. The body aliases b.
func DecodeEntry(b []byte) (*composer.Entry, error) {
	if len(b) < entryHeader || b[0] != 'T' || b[1] < 1 || b[1] > 3 {
		return nil, ErrBadEntry
	}
	e := &composer.Entry{
		Stored: time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:]))),
		MaxAge: time.Duration(binary.BigEndian.Uint32(b[10:])) * time.Millisecond,
		SWR:    time.Duration(binary.BigEndian.Uint32(b[14:])) * time.Millisecond,
		SIE:    time.Duration(binary.BigEndian.Uint32(b[18:])) * time.Millisecond,
	}
	n := int(b[22])
	if len(b) < entryHeader+n {
		return nil, ErrBadEntry
	}
	e.Version = string(b[entryHeader : entryHeader+n])
	rest := b[entryHeader+n:]
	if b[1] == 3 {
		if len(rest) < 4 || uint64(len(rest)-4) < uint64(binary.BigEndian.Uint32(rest)) {
			return nil, ErrBadEntry
		}
		ml := int(binary.BigEndian.Uint32(rest))
		m, ok := decodeMeta(rest[4 : 4+ml])
		if !ok {
			return nil, ErrBadEntry
		}
		e.Meta = m
		rest = rest[4+ml:]
	}
	if b[1] >= 2 {
		if len(rest) < 4 || uint64(len(rest)-4) < uint64(binary.BigEndian.Uint32(rest)) {
			return nil, ErrBadEntry
		}
		bl := int(binary.BigEndian.Uint32(rest))
		if bl > 0 {
			if blk, err := zparts.DecodeBlock(rest[4 : 4+bl]); err == nil {
				e.Block = blk
			}
		}
		rest = rest[4+bl:]
	}
	e.Body = rest
	if e.Block != nil && e.Block.Len() != len(e.Body) {
		e.Block = nil
	}
	return e, nil
}

func msec(d time.Duration) uint32 {
	ms := d.Milliseconds()
	switch {
	case ms < 0:
		return 0
	case ms > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(ms)
}
