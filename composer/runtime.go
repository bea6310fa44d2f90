package composer

import (
	"time"

	"github.com/valyala/fasthttp"
)

// runtime is a compiled site with the resources each of its fragments
// owns: an upstream client (its connection pool and body bound), a circuit
// breaker and its meters. It is immutable once built; a reload builds a new
// one, taking over what did not change, and the old one releases the rest.
type runtime struct {
	site  *Site
	frags map[string]*fragRuntime
}

// fragRuntime is what one fragment of a runtime owns.
type fragRuntime struct {
	f       *Fragment
	client  *fasthttp.Client
	breaker *breaker
	m       *fragMeters
	// keys bounds the distinct cache keys the fragment stores (nil: its
	// keys are bounded by allowlists).
	keys *keyBound
}

// newRuntime builds the runtime for s. A fragment whose upstream settings
// are unchanged since old keeps its client and breaker (open circuits and
// warm connections survive a reload); meters are kept by name.
func newRuntime(s *Site, old *runtime, m *meters) *runtime {
	rt := &runtime{site: s, frags: make(map[string]*fragRuntime, len(s.Fragments))}
	for name, f := range s.Fragments {
		fr := &fragRuntime{f: f, m: m.fragment(name), keys: newKeyBound(f)}
		if old != nil {
			if prev := old.frags[name]; prev != nil && sameUpstream(prev.f, f) {
				fr.client, fr.breaker = prev.client, prev.breaker
			}
		}
		if fr.client == nil {
			fr.client = newClient(f)
			fr.breaker = newBreaker(f)
		}
		rt.frags[name] = fr
	}
	return rt
}

// sameUpstream reports whether two configs of a fragment can share a
// client and a breaker.
func sameUpstream(a, b *Fragment) bool {
	return a.URL == b.URL && a.MaxBytes == b.MaxBytes && a.Auth == b.Auth && a.secret == b.secret &&
		a.Breaker == b.Breaker
}

// release frees what rt owns and the runtime in force (current) did not
// take over: idle connections are closed, and the series of fragments no
// longer configured are dropped (m nil keeps them, as when closing).
func (rt *runtime) release(current func(name string) *fragRuntime, m *meters) {
	for name, fr := range rt.frags {
		kept := current(name)
		if kept == nil || kept.client != fr.client {
			fr.client.CloseIdleConnections()
		}
		if kept == nil && m != nil {
			m.drop(name)
		}
	}
}

// fragment is the runtime of a configured fragment (nil if none).
func (rt *runtime) fragment(name string) *fragRuntime { return rt.frags[name] }

// clock is the time the pipeline runs on; tests drive a fake one.
type clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once after d, and a stop
	// function.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
