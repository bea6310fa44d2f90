// Package tiered puts a short-lived in-process cache in front of a shared
// one (Redis): a hot fragment is read from memory, and Redis is asked only
// for the keys memory does not hold. Entries stay in memory for at most the
// near TTL, so a change made through the shared cache (a refresh by another
// composer) is seen within that time; purges change the keys themselves and
// are seen at once.
package tiered

import (
	"context"
	"time"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/memcache"
)

// Cache is a two-level composer.Cache. It is safe for concurrent use.
type Cache struct {
	near    *memcache.Cache
	far     composer.Cache
	nearTTL time.Duration
}

// New returns a cache that keeps entries from far in near for up to nearTTL.
func New(near *memcache.Cache, far composer.Cache, nearTTL time.Duration) *Cache {
	return &Cache{near: near, far: far, nearTTL: nearTTL}
}

// GetMulti implements composer.Cache: memory first, then one round trip to
// the shared cache for the rest.
func (c *Cache) GetMulti(ctx context.Context, keys []string) ([]*composer.Entry, error) {
	out := make([]*composer.Entry, len(keys))
	var missing []int
	for i, k := range keys {
		if e := c.near.Get(k); e != nil {
			out[i] = e
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	farKeys := make([]string, len(missing))
	for j, i := range missing {
		farKeys[j] = keys[i]
	}
	// A shared cache that failed for some keys still answers for the
	// others (a cluster with one node down): keep those.
	got, err := c.far.GetMulti(ctx, farKeys)
	if len(got) != len(farKeys) {
		return out, err
	}
	for j, i := range missing {
		if e := got[j]; e != nil {
			out[i] = e
			_ = c.near.Set(ctx, keys[i], e, c.nearTTL)
		}
	}
	return out, err
}

// Set implements composer.Cache: both levels.
func (c *Cache) Set(ctx context.Context, key string, e *composer.Entry, keep time.Duration) error {
	_ = c.near.Set(ctx, key, e, min(keep, c.nearTTL))
	return c.far.Set(ctx, key, e, keep)
}

// TryLock implements composer.Cache with the shared cache's lock.
func (c *Cache) TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return c.far.TryLock(ctx, key, ttl)
}

var _ composer.Cache = (*Cache)(nil)
