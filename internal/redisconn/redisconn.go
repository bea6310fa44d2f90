// Package redisconn turns one REDIS_URL into a go-redis client for a
// standalone server, Sentinel or Cluster, tuned for a cache that must never
// hold a page up, with a cluster client that notices a failover within
// seconds. It is a leaf: a fragment service can use it without linking the
// composer.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterReloadInterval bounds how old the slot map of a cluster client
// may get while commands flow. go-redis's default is a minute, and a
// refused connection to a dead master does not make it reload: the slots of
// that master would stay unreachable long after its replica took over.
const ClusterReloadInterval = 2 * time.Second

// clusterReloadEvery rate-limits the reloads asked for by failing
// commands; go-redis coalesces them further (one at a time, 200ms apart).
const clusterReloadEvery = 100 * time.Millisecond

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
	// Above DefaultMaxTimeout: each call's context is the real bound.
	o.ReadTimeout = 300 * time.Millisecond
	o.WriteTimeout = 300 * time.Millisecond
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

// IsCluster reports whether o names a Redis Cluster (several seed
// addresses and no Sentinel master name), the way go-redis decides.
func IsCluster(o *redis.UniversalOptions) bool {
	return o.MasterName == "" && len(o.Addrs) > 1
}

// NewClient opens a client for rawURL (redis:// or rediss://). A cluster
// client is built here rather than through redis.NewUniversalClient, since
// UniversalOptions cannot shorten the slot map's reload interval: it
// reloads at least every ClusterReloadInterval, and at once (rate-limited)
// when a command fails with a connection error, a timeout, CLUSTERDOWN,
// MOVED, ASK, TRYAGAIN, READONLY, LOADING or MASTERDOWN, so a promoted
// replica is used within moments of its promotion.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	o, err := ClientOptions(rawURL)
	if err != nil {
		return nil, err
	}
	if !IsCluster(o) {
		return redis.NewUniversalClient(o), nil
	}
	co := o.Cluster()
	co.ClusterStateReloadInterval = ClusterReloadInterval
	cc := redis.NewClusterClient(co)
	cc.AddHook(&reloadHook{reload: func() { cc.ReloadState(context.Background()) }})
	return cc, nil
}

// reloadHook asks a cluster client to reload its slot map when a command
// fails in a way a topology change explains.
type reloadHook struct {
	reload func()
	last   atomic.Int64 // unix nanos of the last reload asked for
}

func (h *reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if TopologyError(err) {
			h.trigger()
		}
		return err
	}
}

func (h *reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		if TopologyError(err) {
			h.trigger()
			return err
		}
		for _, c := range cmds {
			if TopologyError(c.Err()) {
				h.trigger()
				break
			}
		}
		return err
	}
}

func (h *reloadHook) trigger() {
	now := time.Now().UnixNano()
	last := h.last.Load()
	if now-last < int64(clusterReloadEvery) || !h.last.CompareAndSwap(last, now) {
		return
	}
	h.reload()
}

// topologyError reports whether err may mean the cluster's slot map
// changed: anything but a missing key, a cancelled caller, or a plain
// command error (WRONGTYPE and the like).
func TopologyError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	if _, ok := redis.IsMovedError(err); ok {
		return true
	}
	if _, ok := redis.IsAskError(err); ok {
		return true
	}
	if redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsReadOnlyError(err) ||
		redis.IsLoadingError(err) || redis.IsMasterDownError(err) {
		return true
	}
	var rerr redis.Error
	return !errors.As(err, &rerr)
}
