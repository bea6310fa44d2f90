// Package memcache is the composer's bounded in-process fragment cache, used
// when no Redis is configured and as a near cache in front of Redis. It is
// built on otter (W-TinyLFU eviction, per-entry expiry), bounded by the
// total bytes of the bodies it holds.
package memcache

import (
	"context"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/tessera-dev/tessera/composer"
)

// DefaultMaxBytes bounds the cache when Options leave it zero.
const DefaultMaxBytes = 64 << 20

type item struct {
	e    *composer.Entry
	keep time.Duration
}

// Cache is an in-process composer.Cache. It is safe for concurrent use.
type Cache struct {
	items *otter.Cache[string, item]
	locks *otter.Cache[string, time.Duration]
}

// New returns a cache holding at most maxBytes of fragment bodies
// (DefaultMaxBytes when zero).
func New(maxBytes uint64) (*Cache, error) {
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	items, err := otter.New(&otter.Options[string, item]{
		MaximumWeight: maxBytes,
		Weigher: func(k string, v item) uint32 {
			n := len(k) + len(v.e.Body) + len(v.e.Version) + 64
			if n > 1<<31 {
				return 1 << 31
			}
			return uint32(n)
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, item]) time.Duration {
			return e.Value.keep
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("memcache: %w", err)
	}
	locks, err := otter.New(&otter.Options[string, time.Duration]{
		MaximumSize: 100_000,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, time.Duration]) time.Duration {
			return e.Value
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("memcache: %w", err)
	}
	return &Cache{items: items, locks: locks}, nil
}

// GetMulti implements composer.Cache.
func (c *Cache) GetMulti(_ context.Context, keys []string) ([]*composer.Entry, error) {
	out := make([]*composer.Entry, len(keys))
	for i, k := range keys {
		if it, ok := c.items.GetIfPresent(k); ok {
			out[i] = it.e
		}
	}
	return out, nil
}

// Get returns one entry, or nil.
func (c *Cache) Get(key string) *composer.Entry {
	if it, ok := c.items.GetIfPresent(key); ok {
		return it.e
	}
	return nil
}

// Set implements composer.Cache. Entries are immutable once stored.
func (c *Cache) Set(_ context.Context, key string, e *composer.Entry, keep time.Duration) error {
	if keep <= 0 {
		c.items.Invalidate(key)
		return nil
	}
	c.items.Set(key, item{e: e, keep: keep})
	return nil
}

// Delete removes keys.
func (c *Cache) Delete(keys ...string) {
	for _, k := range keys {
		c.items.Invalidate(k)
	}
}

// TryLock implements composer.Cache.
func (c *Cache) TryLock(_ context.Context, key string, ttl time.Duration) (bool, error) {
	_, stored := c.locks.SetIfAbsent(key, max(ttl, time.Millisecond))
	return stored, nil
}

// Len reports how many entries the cache holds (approximately).
func (c *Cache) Len() int { return c.items.EstimatedSize() }

// Close stops the cache's background work.
func (c *Cache) Close() error {
	c.items.StopAllGoroutines()
	c.locks.StopAllGoroutines()
	return nil
}

var _ composer.Cache = (*Cache)(nil)
