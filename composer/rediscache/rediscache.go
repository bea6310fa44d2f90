// Package rediscache is the composer's shared fragment cache in Redis. It
// speaks to standalone Redis, Sentinel or Cluster through
// redis.UniversalClient. Every call is bounded by a short timeout: a slow or
// dead Redis makes the composer fetch directly, never wait.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/internal/redisconn"
)

// Options configure a Cache.
type Options struct {
	// Timeout is the least bound of each Redis call (default 50ms): the
	// bound when Redis is fast, and when it does not answer at all.
	Timeout time.Duration
	// MaxTimeout is the most the bound grows to while Redis answers, but
	// slowly, as on a saturated host (default 250ms; see adaptive.go).
	MaxTimeout time.Duration
}

// DefaultMaxTimeout is Options.MaxTimeout's default; the client's read and
// write timeouts (ClientOptions) are above it.
const DefaultMaxTimeout = 250 * time.Millisecond

// Cache is a composer.Cache in Redis. It is safe for concurrent use.
type Cache struct {
	rdb   redis.UniversalClient
	adapt *adaptive
}

// New wraps a client. The caller keeps ownership of rdb.
func New(rdb redis.UniversalClient, opts Options) *Cache {
	if opts.Timeout <= 0 {
		opts.Timeout = 50 * time.Millisecond
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = max(DefaultMaxTimeout, opts.Timeout)
	}
	return &Cache{rdb: rdb, adapt: newAdaptive(opts.Timeout, opts.MaxTimeout)}
}

// GetMulti implements composer.Cache with one pipelined round trip (per
// node, on a cluster). Undecodable values count as missing. Each key stands
// on its own: when some nodes fail, what the healthy ones answered is kept
// and the failed keys count as misses; the error then says how many keys
// were lost and why.
func (c *Cache) GetMulti(ctx context.Context, keys []string) ([]*composer.Entry, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	failed := 0
	var firstErr error
	_ = c.bounded(ctx, func(ctx context.Context) error {
		if cc, ok := c.rdb.(*redis.ClusterClient); ok {
			c.getCluster(ctx, cc, keys, cmds)
		} else {
			// The pipeline's own error is the first command's error; each
			// command carries its own, read below.
			_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			})
		}
		for _, cmd := range cmds {
			if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		// Only a lookup that every node answered teaches the bound a round
		// trip: a dead node's keys take the whole bound in dial retries.
		return firstErr
	})
	out := make([]*composer.Entry, len(keys))
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if err != nil {
			continue
		}
		if e, err := DecodeEntry(b); err == nil {
			out[i] = e
		}
	}
	if failed > 0 {
		return out, fmt.Errorf("rediscache: get: %d of %d keys failed: %w", failed, len(keys), firstErr)
	}
	return out, nil
}

// getCluster sends one pipeline per master, in parallel. go-redis's own
// cluster pipeline retries a failed node's commands until the deadline and
// then overwrites every command's result with the deadline error, so one
// dead master would cost the keys of the healthy ones too.
func (c *Cache) getCluster(ctx context.Context, cc *redis.ClusterClient, keys []string, cmds []*redis.StringCmd) {
	byNode := map[*redis.Client][]int{}
	for i, k := range keys {
		node, err := cc.MasterForKey(ctx, k)
		if err != nil {
			cmds[i] = redis.NewStringCmd(ctx, "get", k)
			cmds[i].SetErr(err)
			continue
		}
		byNode[node] = append(byNode[node], i)
	}
	var wg sync.WaitGroup
	for node, idx := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					err := fmt.Errorf("rediscache: panic reading from %s: %v", node.Options().Addr, p)
					for _, i := range idx {
						cmds[i] = redis.NewStringCmd(ctx, "get", keys[i])
						cmds[i].SetErr(err)
					}
				}
			}()
			_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, i := range idx {
					cmds[i] = p.Get(ctx, keys[i])
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for _, cmd := range cmds {
		if redisconn.TopologyError(cmd.Err()) {
			// The slot map may be stale (a master died or moved slots).
			cc.ReloadState(ctx)
			return
		}
	}
}

// Set implements composer.Cache.
func (c *Cache) Set(ctx context.Context, key string, e *composer.Entry, keep time.Duration) error {
	if keep <= 0 {
		return nil
	}
	if err := c.bounded(ctx, func(ctx context.Context) error {
		return c.rdb.Set(ctx, key, AppendEntry(nil, e), keep).Err()
	}); err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	return nil
}

// TryLock implements composer.Cache with SET NX PX.
func (c *Cache) TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var ok bool
	err := c.bounded(ctx, func(ctx context.Context) error {
		var err error
		ok, err = c.rdb.SetNX(ctx, "lock:"+key, 1, ttl).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("rediscache: lock: %w", err)
	}
	return ok, nil
}

// Ping reports whether Redis answers.
func (c *Cache) Ping(ctx context.Context) error {
	return c.bounded(ctx, func(ctx context.Context) error { return c.rdb.Ping(ctx).Err() })
}

// Warm opens n connections (to every master, on a cluster) before the
// first pages, so that the first burst after a start does not wait on
// dials and time out; the pool keeps them idle. The round trips also seed
// the adaptive lookup bound. ctx bounds the whole warm-up.
func (c *Cache) Warm(ctx context.Context, n int) error {
	ping := func(ctx context.Context, cl *redis.Client) error {
		// Each goroutine holds its connection until all have pinged, so
		// that n distinct connections are dialled, then hands it back to
		// the pool.
		var wg sync.WaitGroup
		wg.Add(n)
		errs := make(chan error, n)
		for range n {
			go func() {
				done := sync.OnceFunc(wg.Done)
				defer func() {
					if p := recover(); p != nil {
						done()
						errs <- fmt.Errorf("rediscache: warm-up panic: %v", p)
					}
				}()
				conn := cl.Conn()
				defer conn.Close()
				start := c.adapt.now()
				err := conn.Ping(ctx).Err()
				if err == nil {
					c.adapt.observe(c.adapt.now().Sub(start), 0, nil)
				}
				done()
				wg.Wait()
				errs <- err
			}()
		}
		var first error
		for range n {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	var err error
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			if err := ping(ctx, node); err != nil {
				return fmt.Errorf("%s: %w", node.Options().Addr, err)
			}
			return nil
		})
	} else if cl, ok := c.rdb.(*redis.Client); ok {
		err = ping(ctx, cl)
	} else {
		err = c.rdb.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("rediscache: warm up %d connections: %w", n, err)
	}
	return nil
}

// Check reports whether the cache works, for readiness. Standalone and
// Sentinel: a PING to the master. Cluster: CLUSTER INFO on every master in
// the client's slot map, each of which must answer and report
// cluster_state:ok — a PING alone reaches any live node and says nothing
// of a cluster that answers CLUSTERDOWN to every key. The error names each
// part that failed. ctx bounds the whole check.
func (c *Cache) Check(ctx context.Context) error {
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
		if err := c.rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis ping: %w", err)
		}
		return nil
	}
	var (
		mu   sync.Mutex
		errs []error
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		addr := node.Options().Addr
		info, err := node.ClusterInfo(ctx).Result()
		if err == nil {
			if st := clusterState(info); st != "ok" {
				err = fmt.Errorf("cluster_state:%s", st)
			}
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("cluster node %s: %w", addr, err))
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("cluster slot map: %w", err))
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		// The map is worth reloading: a failed master may have been replaced.
		cc.ReloadState(ctx)
		return errors.Join(errs...)
	}
	return nil
}

// clusterState returns the cluster_state field of CLUSTER INFO.
func clusterState(info string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v
		}
	}
	return "unknown"
}

var _ composer.Cache = (*Cache)(nil)
