package composer

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen reports a fragment skipped because its circuit breaker is
// open: it failed repeatedly and is left alone for a cool-down.
var ErrCircuitOpen = errors.New("fragment circuit open")

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 5 * time.Second
)

// breakers holds one circuit breaker per fragment. A breaker survives a
// config reload unless its settings change.
type breakers struct {
	mu sync.Mutex
	m  map[string]*breaker
}

type breaker struct {
	failures uint32
	cooldown time.Duration
	cb       *gobreaker.CircuitBreaker[*fetchResult]
}

func (b *breakers) get(f *Fragment) *breaker {
	if f.BreakerFailures <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if br, ok := b.m[f.Name]; ok && br.failures == uint32(f.BreakerFailures) && br.cooldown == f.BreakerCooldown {
		return br
	}
	if b.m == nil {
		b.m = make(map[string]*breaker)
	}
	n := uint32(f.BreakerFailures)
	br := &breaker{failures: n, cooldown: f.BreakerCooldown}
	br.cb = gobreaker.NewCircuitBreaker[*fetchResult](gobreaker.Settings{
		Name:        f.Name,
		MaxRequests: 1,
		Timeout:     f.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= n },
	})
	b.m[f.Name] = br
	return br
}

// state is "closed", "open" or "half-open" ("" when the fragment has none).
func (b *breakers) state(name string) string {
	b.mu.Lock()
	br, ok := b.m[name]
	b.mu.Unlock()
	if !ok {
		return ""
	}
	return br.cb.State().String()
}

// run calls fetch through the breaker.
func (br *breaker) run(name string, fetch func() (*fetchResult, error)) (*fetchResult, error) {
	if br == nil {
		return fetch()
	}
	res, err := br.cb.Execute(fetch)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, fmt.Errorf("%w: %s", ErrCircuitOpen, name)
	}
	return res, err
}
