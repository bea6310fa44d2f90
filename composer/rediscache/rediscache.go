// Package rediscache is the composer's shared fragment cache in Redis. It
// speaks to standalone Redis, Sentinel or Cluster through
// redis.UniversalClient. Every call is bounded by a short timeout: a slow or
// dead Redis makes the composer fetch directly, never wait.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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

// ClientOptions turns a redis:// (or rediss://) URL into client options
// tuned for a cache that must never hold a page up: short dial, read and
// write timeouts that honour context deadlines, and at most one retry.
// One URL reaches every deployment:
//
//	redis://host:6379/0                                  standalone
//	redis://sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379   Sentinel
//	redis://node1:6379?addr=node2:6379&addr=node3:6379   Cluster
func ClientOptions(rawURL string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rediscache: parse url: %w", err)
	}
	q := u.Query()
	var o redis.UniversalOptions
	switch {
	case q.Get("master_name") != "":
		fo, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("rediscache: parse sentinel url: %w", err)
		}
		o = redis.UniversalOptions{Addrs: fo.SentinelAddrs, MasterName: fo.MasterName, DB: fo.DB,
			Username: fo.Username, Password: fo.Password, SentinelUsername: fo.SentinelUsername,
			SentinelPassword: fo.SentinelPassword, TLSConfig: fo.TLSConfig}
	case len(q["addr"]) > 0:
		co, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("rediscache: parse cluster url: %w", err)
		}
		o = redis.UniversalOptions{Addrs: co.Addrs, Username: co.Username, Password: co.Password, TLSConfig: co.TLSConfig}
	default:
		so, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("rediscache: parse url: %w", err)
		}
		o = redis.UniversalOptions{Addrs: []string{so.Addr}, DB: so.DB, Username: so.Username, Password: so.Password, TLSConfig: so.TLSConfig}
	}
	o.Protocol = 2
	o.DialTimeout = 200 * time.Millisecond
	o.ReadTimeout = 100 * time.Millisecond
	o.WriteTimeout = 100 * time.Millisecond
	o.ContextTimeoutEnabled = true
	o.MaxRetries = 1
	o.MinRetryBackoff = 2 * time.Millisecond
	o.MaxRetryBackoff = 20 * time.Millisecond
	o.PoolSize = 64
	o.PoolTimeout = 100 * time.Millisecond
	o.MinIdleConns = 4
	o.DisableIdentity = true
	return &o, nil
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
