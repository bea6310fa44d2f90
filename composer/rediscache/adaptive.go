package rediscache

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Lookup timeout, adaptive. A fixed 50ms bound is right for a Redis that
// answers in a millisecond, but on a saturated host the round trip itself
// (scheduling, not Redis) passes 50ms; every lookup then times out and the
// page fetches its fragments directly, multiplying upstream traffic exactly
// when there is least room for it. So each call's bound is four times the
// recent round trip (an exponentially weighted average of successful
// calls), never below Options.Timeout nor above Options.MaxTimeout.
//
// A call that times out while Redis answered other calls within the last
// second counts as a round trip of at least the bound it hit, so the
// bound grows under load (by 1.6x per such timeout). When nothing has
// succeeded for a second — Redis is down or black-holed, not slow — the
// bound falls back to Options.Timeout, so a dead Redis costs each page no
// more than before.
const (
	adaptiveFactor = 4
	adaptiveAlive  = time.Second
	// ewmaWeight is the weight of a new sample, in 1/8ths.
	ewmaWeight = 2
)

type adaptive struct {
	floor, ceil time.Duration
	now         func() time.Time
	ewma        atomic.Int64 // nanoseconds
	lastOK      atomic.Int64 // unix nanoseconds of the last success
}

func newAdaptive(floor, ceil time.Duration) *adaptive {
	return &adaptive{floor: floor, ceil: max(ceil, floor), now: time.Now}
}

// timeout is the bound for the next call.
func (a *adaptive) timeout() time.Duration {
	if a.now().UnixNano()-a.lastOK.Load() > int64(adaptiveAlive) {
		return a.floor
	}
	return min(max(time.Duration(a.ewma.Load())*adaptiveFactor, a.floor), a.ceil)
}

// observe records one call that took d and ended with err under bound.
func (a *adaptive) observe(d, bound time.Duration, err error) {
	switch {
	case err == nil:
		a.lastOK.Store(a.now().UnixNano())
		a.sample(d)
	case errors.Is(err, context.DeadlineExceeded) && a.now().UnixNano()-a.lastOK.Load() <= int64(adaptiveAlive):
		a.sample(bound)
	}
}

func (a *adaptive) sample(d time.Duration) {
	for {
		old := a.ewma.Load()
		v := int64(d)
		if old != 0 {
			v = (old*(8-ewmaWeight) + int64(d)*ewmaWeight) / 8
		}
		if a.ewma.CompareAndSwap(old, v) {
			return
		}
	}
}

// bounded runs fn under the adaptive bound and records how it went.
func (c *Cache) bounded(ctx context.Context, fn func(context.Context) error) error {
	bound := c.adapt.timeout()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	start := c.adapt.now()
	err := fn(ctx)
	c.adapt.observe(c.adapt.now().Sub(start), bound, err)
	return err
}
