package upstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Breaker defaults: a fragment is skipped once 80% of at least 10
// fetches over the last 30 s failed; 5 s later three probes decide.
const (
	DefaultBreakerMinRequests = 10
	DefaultBreakerFailureRate = 0.8
	DefaultBreakerWindow      = 30 * time.Second
	DefaultBreakerProbes      = 3
	DefaultBreakerCooldown    = 5 * time.Second
)

// BreakerSettings are a fragment's compiled breaker settings (see
// BreakerConfig).
type BreakerSettings struct {
	// MinRequests finished fetches in the window before the rate counts;
	// 0 means no breaker.
	MinRequests int
	FailureRate float64
	Window      time.Duration
	Probes      int
	Cooldown    time.Duration
}

// On reports whether the fragment has a breaker.
func (s BreakerSettings) On() bool { return s.MinRequests > 0 }

// tripped reports whether counts over the window open the circuit: enough
// fetches ended, and enough of them failed. Fetches still running count
// for neither.
func (s BreakerSettings) tripped(c gobreaker.Counts) bool {
	done := c.TotalSuccesses + c.TotalFailures
	return done >= uint32(s.MinRequests) && float64(c.TotalFailures) >= s.FailureRate*float64(done)
}

// breaker is a fragment's circuit breaker; nil when the fragment has none.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[*Answer]
}

// newBreaker is a fragment's breaker: a rolling window of ten buckets, and
// Probes requests let through half-open, every one of which must succeed to
// close it.
func newBreaker(name string, s BreakerSettings) *breaker {
	if !s.On() {
		return nil
	}
	return &breaker{cb: gobreaker.NewTwoStepCircuitBreaker[*Answer](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(s.Probes),
		Interval:     s.Window,
		BucketPeriod: s.Window / 10,
		Timeout:      s.Cooldown,
		ReadyToTrip:  s.tripped,
	})}
}

// state is "closed", "open" or "half-open" ("" when there is no breaker).
func (b *breaker) state() string {
	if b == nil {
		return ""
	}
	return b.cb.State().String()
}

// allow lets a call through the breaker, or reports it skipped; done
// tells the breaker how the call ended (nil when there is no breaker).
func (b *breaker) allow(name string) (done func(error), err error) {
	if b == nil {
		return nil, nil
	}
	done, err = b.cb.Allow()
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, fmt.Errorf("%w: %s", ErrCircuitOpen, name)
	}
	return done, err
}
