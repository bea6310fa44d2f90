// Package rediscache is the composer's shared fragment cache in Redis. It
// speaks to standalone Redis, Sentinel or Cluster through
// redis.UniversalClient. Every call is bounded by a short timeout: a slow or
// dead Redis makes the composer fetch directly, never wait.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tessera-dev/tessera/composer"
)

// Options configure a Cache.
type Options struct {
	// Timeout bounds each Redis call (default 50ms).
	Timeout time.Duration
}

// Cache is a composer.Cache in Redis. It is safe for concurrent use.
type Cache struct {
	rdb     redis.UniversalClient
	timeout time.Duration
}

// ClientOptions turns a redis:// URL into client options tuned for a cache
// that must never hold a page up: short dial/read/write timeouts that honour
// context deadlines, and at most one retry.
func ClientOptions(rawURL string) (*redis.UniversalOptions, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rediscache: parse url: %w", err)
	}
	return &redis.UniversalOptions{
		Addrs:                 []string{o.Addr},
		DB:                    o.DB,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLSConfig,
		Protocol:              2,
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           100 * time.Millisecond,
		WriteTimeout:          100 * time.Millisecond,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		MinRetryBackoff:       2 * time.Millisecond,
		MaxRetryBackoff:       20 * time.Millisecond,
		PoolSize:              64,
		PoolTimeout:           100 * time.Millisecond,
		MinIdleConns:          4,
		DisableIdentity:       true,
	}, nil
}

// NewClient opens a client for rawURL (redis:// or rediss://).
func NewClient(rawURL string) (redis.UniversalClient, error) {
	o, err := ClientOptions(rawURL)
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}

// New wraps a client. The caller keeps ownership of rdb.
func New(rdb redis.UniversalClient, opts Options) *Cache {
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Millisecond
	}
	return &Cache{rdb: rdb, timeout: opts.Timeout}
}

// GetMulti implements composer.Cache with one pipelined round trip (per
// node, on a cluster). Undecodable values count as missing.
func (c *Cache) GetMulti(ctx context.Context, keys []string) ([]*composer.Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("rediscache: get: %w", err)
	}
	out := make([]*composer.Entry, len(keys))
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if err != nil {
			continue
		}
		if e, err := composer.DecodeEntry(b); err == nil {
			out[i] = e
		}
	}
	return out, nil
}

// Set implements composer.Cache.
func (c *Cache) Set(ctx context.Context, key string, e *composer.Entry, keep time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if keep <= 0 {
		return nil
	}
	if err := c.rdb.Set(ctx, key, composer.AppendEntry(nil, e), keep).Err(); err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	return nil
}

// TryLock implements composer.Cache with SET NX PX.
func (c *Cache) TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ok, err := c.rdb.SetNX(ctx, "lock:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("rediscache: lock: %w", err)
	}
	return ok, nil
}

// Ping reports whether Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.rdb.Ping(ctx).Err()
}

var _ composer.Cache = (*Cache)(nil)
