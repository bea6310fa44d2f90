package composer

import (
	"context"
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
	// Meta is what the answer declared besides its markup (nil: a plain
	// 200 with no assets).
	Meta *Meta
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
