package rediscache

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAdaptiveTimeout(t *testing.T) {
	now := time.Unix(1000, 0)
	a := newAdaptive(50*time.Millisecond, 250*time.Millisecond)
	a.now = func() time.Time { return now }
	if got := a.timeout(); got != 50*time.Millisecond {
		t.Fatalf("before any call: %v, want the floor", got)
	}
	// Fast Redis: the floor.
	for range 10 {
		a.observe(time.Millisecond, a.timeout(), nil)
	}
	if got := a.timeout(); got != 50*time.Millisecond {
		t.Fatalf("fast Redis: %v, want the floor", got)
	}
	// Slow round trips (a saturated host): the bound follows them.
	for range 30 {
		a.observe(40*time.Millisecond, a.timeout(), nil)
	}
	if got := a.timeout(); got < 150*time.Millisecond || got > 160*time.Millisecond {
		t.Fatalf("40ms round trips: %v, want about 160ms", got)
	}
	// Timeouts while Redis still answers: it grows, up to the ceiling.
	for range 10 {
		a.observe(a.timeout(), a.timeout(), context.DeadlineExceeded)
	}
	if got := a.timeout(); got != 250*time.Millisecond {
		t.Fatalf("timeouts under load: %v, want the ceiling", got)
	}
	// Nothing answered for over a second: down, not slow - the floor.
	now = now.Add(2 * time.Second)
	for range 5 {
		a.observe(a.timeout(), a.timeout(), context.DeadlineExceeded)
	}
	if got := a.timeout(); got != 50*time.Millisecond {
		t.Fatalf("black-holed Redis: %v, want the floor", got)
	}
	// Refused connections do not teach it anything either.
	a.observe(time.Millisecond, a.timeout(), errors.New("connection refused"))
	if got := a.timeout(); got != 50*time.Millisecond {
		t.Fatalf("after a refused call: %v, want the floor", got)
	}
}
