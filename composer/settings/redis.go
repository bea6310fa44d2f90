package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// event is what is published on EventsChannel. Watchers reload everything
// on any event, so the payload is for people reading the channel.
type event struct {
	Op         string `json:"op"` // ttl, clear, purge
	Fragment   string `json:"fragment"`
	Generation uint64 `json:"generation,omitempty"`
}

func (e event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

func (s *Store) loadRedis(ctx context.Context) (*Tuning, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var ttl, gen *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ttl = p.HGetAll(ctx, OverridesKey)
		gen = p.HGetAll(ctx, GenerationsKey)
		return nil
	})
	if err != nil {
		s.failed(err)
		return nil, fmt.Errorf("settings: load: %w", err)
	}
	s.reached()
	t := &Tuning{
		Overrides:   make(map[string]Override, len(ttl.Val())),
		Generations: make(map[string]uint64, len(gen.Val())),
	}
	for name, v := range ttl.Val() {
		o, err := decodeOverride(v)
		if err != nil || Validate(name, o) != nil {
			s.log.Debug("ignoring an unreadable override", "fragment", name, "err", err)
			continue
		}
		t.Overrides[name] = o
	}
	for name, v := range gen.Val() {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.log.Debug("ignoring an unreadable generation", "fragment", name, "err", err)
			continue
		}
		t.Generations[name] = n
	}
	return t, nil
}

func decodeOverride(v string) (Override, error) {
	var o Override
	err := json.Unmarshal([]byte(v), &o)
	return o, err
}

// setRedis merges o into the stored override in a WATCH/MULTI transaction,
// so concurrent writers of different fields do not lose each other's.
func (s *Store) setRedis(ctx context.Context, name string, o Override) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	msg := event{Op: "ttl", Fragment: name}.String()
	txf := func(tx *redis.Tx) error {
		var prev Override
		cur, err := tx.HGet(ctx, OverridesKey, name).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return err
		default:
			if p, err := decodeOverride(cur); err == nil {
				prev = p
			}
		}
		b, err := json.Marshal(merge(prev, o))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, OverridesKey, name, b)
			p.Publish(ctx, EventsChannel, msg)
			return nil
		})
		return err
	}
	var err error
	for attempt := 1; ; attempt++ {
		if err = s.rdb.Watch(ctx, txf, OverridesKey); !errors.Is(err, redis.TxFailedErr) {
			break
		}
		// Another writer changed the hash in between: try again, with
		// jitter so that writers do not keep colliding.
		if !sleep(ctx, time.Duration(1+rand.IntN(2*attempt))*time.Millisecond) {
			err = fmt.Errorf("%w (%d attempts)", ctx.Err(), attempt)
			break
		}
	}
	if err != nil {
		s.failed(err)
		return fmt.Errorf("settings: set override %q: %w", name, err)
	}
	s.reached()
	return nil
}

func (s *Store) clearRedis(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, OverridesKey, name)
		p.Publish(ctx, EventsChannel, event{Op: "clear", Fragment: name}.String())
		return nil
	})
	if err != nil {
		s.failed(err)
		return fmt.Errorf("settings: clear override %q: %w", name, err)
	}
	s.reached()
	return nil
}

func (s *Store) purgeRedis(ctx context.Context, name string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	gen, err := s.rdb.HIncrBy(ctx, GenerationsKey, name, 1).Result()
	if err != nil {
		s.failed(err)
		return 0, fmt.Errorf("settings: purge %q: %w", name, err)
	}
	s.reached()
	// The generation is bumped either way; a lost announcement is made up
	// for by the watchers' resync.
	if err := s.rdb.Publish(ctx, EventsChannel, event{Op: "purge", Fragment: name, Generation: uint64(gen)}.String()).Err(); err != nil {
		s.log.Debug("purge announcement failed", "fragment", name, "err", err)
	}
	return uint64(gen), nil
}

// watchRedis follows EventsChannel until ctx is done. go-redis re-dials
// and re-subscribes a broken subscription on the next receive; the server's
// subscribe confirmation then tells us to reload what we may have missed.
func (s *Store) watchRedis(ctx context.Context) {
	const (
		minBackoff = 50 * time.Millisecond
		maxBackoff = time.Second
	)
	sub := &subscription{rdb: s.rdb}
	sub.open(ctx)
	defer sub.close()
	// A receive blocks on the socket, not on ctx: closing the subscription
	// ends it at once.
	stop := context.AfterFunc(ctx, sub.close)
	defer stop()

	backoff := minBackoff
	lastSync, lastHeard := time.Now(), time.Now()
	for ctx.Err() == nil {
		if time.Since(lastSync) >= s.resync {
			s.sync(ctx)
			lastSync = time.Now()
			if time.Since(lastHeard) > 3*s.resync {
				// Not even a PONG for a long while: the connection may be
				// dead without the kernel having noticed.
				sub.open(ctx)
				lastHeard = time.Now()
			} else {
				_ = sub.get().Ping(ctx)
			}
		}
		wait := min(time.Second, max(s.resync-time.Since(lastSync), 10*time.Millisecond))
		start := time.Now()
		msg, err := sub.get().ReceiveTimeout(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isTimeout(err) && time.Since(start) >= wait/2 {
				continue // nothing happened
			}
			s.failed(err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				s.reached()
				s.sync(ctx)
				lastSync = time.Now()
			}
		case *redis.Message:
			s.sync(ctx)
			lastSync = time.Now()
		}
	}
}

// subscription is the PubSub in use, which the watch loop may replace
// while ctx's cancellation closes it from another goroutine.
type subscription struct {
	rdb    redis.UniversalClient
	mu     sync.Mutex
	ps     *redis.PubSub
	closed bool
}

// open replaces the subscription with a new one. A failure to connect is
// not reported here: the next receive retries it.
func (s *subscription) open(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps != nil {
		_ = s.ps.Close()
	}
	s.ps = s.rdb.Subscribe(ctx, EventsChannel)
	if s.closed {
		_ = s.ps.Close()
	}
}

func (s *subscription) get() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

func (s *subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ps != nil {
		_ = s.ps.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
