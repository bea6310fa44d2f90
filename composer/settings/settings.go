package settings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Redis names shared by every composer and fragment service.
const (
	OverridesKey   = "tessera:ttl"
	GenerationsKey = "tessera:gen"
	EventsChannel  = "tessera:events"
)

// MaxDuration bounds every TTL, stale-while-revalidate and stale-if-error
// setting, as in the config.
const MaxDuration = 7 * 24 * time.Hour

// ErrInvalid marks a setting that was refused; its message says why and is
// fit to show to the operator.
var ErrInvalid = errors.New("invalid setting")

// Options configure a Store.
type Options struct {
	// Logger receives one line when the store becomes unreachable and one
	// when it is back; nil discards them.
	Logger *slog.Logger
	// Timeout bounds each Redis call (default 1s).
	Timeout time.Duration
	// Resync is how often Watch reloads everything, in case an
	// announcement was lost (default 5s).
	Resync time.Duration
}

// Store reads and writes the run-time tuning. It is safe for concurrent
// use. Names are not checked against a site: callers do that.
type Store struct {
	rdb     redis.UniversalClient // nil: in-process
	log     *slog.Logger
	timeout time.Duration
	resync  time.Duration
	down    atomic.Bool

	// seq numbers loads in the order they start; a load is delivered to
	// watchers only if no later one was, so a slow load never undoes a
	// newer one.
	seq atomic.Uint64

	mu        sync.Mutex
	delivered uint64
	watchers  map[int]func(*Tuning)
	nextID    int
	mem       Tuning // in-process state
}

// NewRedis returns a Store in Redis. The caller keeps ownership of rdb.
func NewRedis(rdb redis.UniversalClient, o Options) *Store {
	s := newStore(o)
	s.rdb = rdb
	return s
}

// NewMemory returns a Store that keeps the tuning in this process, for a
// composer without Redis.
func NewMemory(o Options) *Store {
	return newStore(o)
}

func newStore(o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Resync <= 0 {
		o.Resync = 5 * time.Second
	}
	return &Store{
		log:      o.Logger,
		timeout:  o.Timeout,
		resync:   o.Resync,
		watchers: make(map[int]func(*Tuning)),
		mem:      Tuning{Overrides: map[string]Override{}, Generations: map[string]uint64{}},
	}
}

// Shared reports whether the store is shared with other processes (Redis).
func (s *Store) Shared() bool { return s.rdb != nil }

// Load returns the tuning in force. The result is the caller's to keep.
func (s *Store) Load(ctx context.Context) (*Tuning, error) {
	if s.rdb == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.memCopy(), nil
	}
	return s.loadRedis(ctx)
}

// SetOverride merges o into the fragment's override: fields of o left nil
// keep their previous value. At least one field must be set.
func (s *Store) SetOverride(ctx context.Context, name string, o Override) error {
	if err := Validate(name, o); err != nil {
		return err
	}
	if o.TTL == nil && o.SWR == nil && o.SIE == nil {
		return fmt.Errorf("%w: give at least one of ttl, swr, sie", ErrInvalid)
	}
	if s.rdb == nil {
		s.mu.Lock()
		s.mem.Overrides[name] = merge(s.mem.Overrides[name], o)
		s.mu.Unlock()
	} else if err := s.setRedis(ctx, name, o); err != nil {
		return err
	}
	s.sync(ctx)
	return nil
}

// ClearOverride removes the fragment's override, so its config applies
// again. Clearing a fragment without one is not an error.
func (s *Store) ClearOverride(ctx context.Context, name string) error {
	if err := Validate(name, Override{}); err != nil {
		return err
	}
	if s.rdb == nil {
		s.mu.Lock()
		delete(s.mem.Overrides, name)
		s.mu.Unlock()
	} else if err := s.clearRedis(ctx, name); err != nil {
		return err
	}
	s.sync(ctx)
	return nil
}

// Purge bumps the fragment's generation, so no copy cached before is read
// again, and returns the new generation. Operators use it, and so does a
// fragment service whose content changed.
func (s *Store) Purge(ctx context.Context, name string) (uint64, error) {
	if err := Validate(name, Override{}); err != nil {
		return 0, err
	}
	var gen uint64
	if s.rdb == nil {
		s.mu.Lock()
		s.mem.Generations[name]++
		gen = s.mem.Generations[name]
		s.mu.Unlock()
	} else {
		var err error
		if gen, err = s.purgeRedis(ctx, name); err != nil {
			return 0, err
		}
	}
	s.sync(ctx)
	return gen, nil
}

// Watch keeps apply up to date with the tuning until ctx is done: it loads
// once, then again on every change announced by any composer, after a
// reconnect to Redis, and every Resync. apply is called from one goroutine
// at a time and must not call the Store. Writes through this Store reach
// apply before they return. Watch returns when ctx is done; Redis failures
// are retried and logged once per outage, never returned.
func (s *Store) Watch(ctx context.Context, apply func(*Tuning)) {
	id := s.register(apply)
	defer s.unregister(id)
	s.sync(ctx)
	if s.rdb == nil {
		<-ctx.Done()
		return
	}
	s.watchRedis(ctx)
}

func (s *Store) register(apply func(*Tuning)) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.watchers[s.nextID] = apply
	return s.nextID
}

func (s *Store) unregister(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watchers, id)
}

// sync loads the tuning and hands it to every watcher. A failure is left
// to the next announcement or resync.
func (s *Store) sync(ctx context.Context) {
	seq := s.seq.Add(1)
	var t *Tuning
	if s.rdb == nil {
		s.mu.Lock()
		t = s.memCopy()
		s.mu.Unlock()
	} else {
		var err error
		if t, err = s.loadRedis(ctx); err != nil {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.delivered {
		return
	}
	s.delivered = seq
	for _, apply := range s.watchers {
		apply(t)
	}
}

// memCopy copies the in-process tuning; s.mu must be held.
func (s *Store) memCopy() *Tuning {
	return &Tuning{Overrides: maps.Clone(s.mem.Overrides), Generations: maps.Clone(s.mem.Generations)}
}

// failed records that the store could not be reached, logging once per
// outage.
func (s *Store) failed(err error) {
	if s.down.CompareAndSwap(false, true) {
		s.log.Warn("settings store unreachable; keeping the last tuning until it answers", "err", err)
	}
}

// reached records that the store answered.
func (s *Store) reached() {
	if s.down.CompareAndSwap(true, false) {
		s.log.Info("settings store reachable again")
	}
}

// Validate checks a fragment name and the durations of an override.
func Validate(name string, o Override) error {
	if err := protocol.CheckName(name); err != nil {
		return fmt.Errorf("%w: fragment %w", ErrInvalid, err)
	}
	for _, f := range []struct {
		field string
		d     *time.Duration
	}{{"ttl", o.TTL}, {"swr", o.SWR}, {"sie", o.SIE}} {
		if err := CheckDuration(f.field, f.d); err != nil {
			return err
		}
	}
	return nil
}

// CheckDuration checks one setting (nil is fine: it is not being set).
func CheckDuration(field string, d *time.Duration) error {
	switch {
	case d == nil:
		return nil
	case *d < 0:
		return fmt.Errorf("%w: %s %s must not be negative", ErrInvalid, field, *d)
	case *d > MaxDuration:
		return fmt.Errorf("%w: %s %s is more than the limit of %s", ErrInvalid, field, FormatDuration(*d), FormatDuration(MaxDuration))
	}
	return nil
}

func merge(prev, o Override) Override {
	if o.TTL != nil {
		prev.TTL = o.TTL
	}
	if o.SWR != nil {
		prev.SWR = o.SWR
	}
	if o.SIE != nil {
		prev.SIE = o.SIE
	}
	return prev
}

// FormatDuration writes d the way operators type it, and the same in the
// CLI, the admin API and the dashboard: Go's form without its zero units
// ("1m", not "1m0s"; "1h30m", not "1h30m0s"; "500ms" and "1m30s" as they
// are).
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
