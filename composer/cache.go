package composer

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/tessera-dev/tessera/composer/zparts"
)

// Cache stores rendered fragments. Implementations must be safe for
// concurrent use. Get reports a missing key as a nil entry, not an error;
// an error means the store itself failed, and the composer then fetches
// directly.
type Cache interface {
	// GetMulti looks every key up in one round trip. The result has one
	// element per key, nil where the key is missing or unreadable.
	GetMulti(ctx context.Context, keys []string) ([]*Entry, error)
	// Set stores e under key for at most keep.
	Set(ctx context.Context, key string, e *Entry, keep time.Duration) error
	// TryLock takes a short-lived lock named key; it reports whether this
	// caller holds it. It lets one of many composers refresh a key.
	TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Entry is one cached fragment rendering.
type Entry struct {
	Body    []byte
	Version string
	// Stored is when the fragment answered.
	Stored time.Time
	// MaxAge, SWR and SIE are the freshness the fragment itself declared in
	// Cache-Control; config and run-time overrides take precedence.
	MaxAge, SWR, SIE time.Duration
	// Block is Body compressed ahead of time (gzip and zstd forms), for
	// compressed pages; nil until built, and then Body is still kept for
	// clients that take no compression.
	Block *zparts.Block
}

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
// Both decode; a version 2 entry whose block does not decode is read
// without it.
const entryHeader = 2 + 8 + 4 + 4 + 4 + 1

// ErrBadEntry reports a cached value that cannot be decoded.
var ErrBadEntry = errors.New("bad cache entry")

// AppendEntry encodes e onto dst.
func AppendEntry(dst []byte, e *Entry) []byte {
	v := e.Version
	if len(v) > 255 {
		v = v[:255]
	}
	wire := byte(1)
	if e.Block != nil {
		wire = 2
	}
	dst = append(dst, 'T', wire)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Stored.UnixMilli()))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.MaxAge))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.SWR))
	dst = binary.BigEndian.AppendUint32(dst, msec(e.SIE))
	dst = append(dst, byte(len(v)))
	dst = append(dst, v...)
	if e.Block != nil {
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

// DecodeEntry decodes a value written by AppendEntry. The body aliases b.
func DecodeEntry(b []byte) (*Entry, error) {
	if len(b) < entryHeader || b[0] != 'T' || (b[1] != 1 && b[1] != 2) {
		return nil, ErrBadEntry
	}
	e := &Entry{
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
	if b[1] == 2 {
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

// freshness is the effective policy for one entry: overrides, then config,
// then the fragment's own Cache-Control.
type freshness struct {
	ttl, swr, sie time.Duration
}

// state classifies an entry at now.
type entryState int

const (
	stateMissing entryState = iota
	stateFresh
	stateStale   // within stale-while-revalidate: serve and refresh
	stateUsable  // only within stale-if-error: serve if the fetch fails
	stateExpired // too old to serve
)

func (f freshness) state(e *Entry, now time.Time) entryState {
	if e == nil {
		return stateMissing
	}
	age := now.Sub(e.Stored)
	switch {
	case age < f.ttl:
		return stateFresh
	case age < f.ttl+f.swr:
		return stateStale
	case age < f.ttl+f.sie:
		return stateUsable
	}
	return stateExpired
}

// keep is how long a store should retain an entry: its TTL plus the longer
// of the stale windows.
func (f freshness) keep() time.Duration {
	k := f.ttl + max(f.swr, f.sie)
	if k <= 0 {
		return 0
	}
	return k
}

// withBlock returns a copy of e with its body's compressed block: built
// when an entry is stored, off the request path (some milliseconds per
// few KB at the level blocks are built at).
func withBlock(e *Entry) *Entry {
	if e.Block != nil {
		return e
	}
	c := *e
	c.Block = zparts.NewBlock(e.Body)
	return &c
}

// blockFor is e's block when body is e's body as it is, nil otherwise (a
// body that was replaced or expanded has no block).
func blockFor(e *Entry, body []byte) *zparts.Block {
	if e == nil || e.Block == nil || len(body) == 0 || len(body) != len(e.Body) || &body[0] != &e.Body[0] {
		return nil
	}
	return e.Block
}

// BlockOf compresses body into the block an Entry carries.
func BlockOf(body []byte) *zparts.Block { return zparts.NewBlock(body) }
