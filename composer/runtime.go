package composer

import (
	"sync/atomic"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// runtime is a compiled site with the resources each of its fragments
// owns: an upstream client (its connection pool and body bound), a circuit
// breaker and its meters. It is immutable once built; a reload builds a new
// one, taking over what did not change, and the old one releases the rest.
type runtime struct {
	site  *config.Site
	pages map[*config.Page]*page
	frags map[string]*fragRuntime
	// forward is what a page reads of the request for its fragments.
	forward forwardList
}

// fragRuntime is what one fragment of a runtime owns.
type fragRuntime struct {
	f  *config.Fragment
	up *upstream.Client
	m  *fragMeters
	// keys bounds the distinct cache keys the fragment stores (nil: its
	// keys are bounded by allowlists).
	keys *keyBound
	// fragMemory is what the composer learnt from the fragment's answers; it
	// outlives reloads.
	*fragMemory
}

// fragMemory is what the composer remembers of a fragment's latest
// answers: the assets it declared (for early hints and the asset route)
// and whether it answered for one user alone.
type fragMemory struct {
	assets atomic.Pointer[[]protocol.Asset]
	known  knownAssets
	// sharing is whether the fragment's latest answer could be shared
	// (unknown until it first answers: counted as private), so that
	// pages holding it say private before it is in.
	sharing atomic.Int32
}

// What a fragment's latest answer said of sharing.
const (
	sharingUnknown int32 = iota
	sharingShared
	sharingPrivate
)

// private reports whether pages holding the fragment should say private
// before its answer is in: it answered for one user alone last time, or
// has not answered yet.
func (m *fragMemory) private() bool { return m.sharing.Load() != sharingShared }

// newRuntime builds the runtime for s. A fragment whose upstream settings
// are unchanged since old keeps its client and breaker (open circuits and
// warm connections survive a reload); meters are kept by name.
func newRuntime(s *config.Site, old *runtime, m *meters) *runtime {
	rt := &runtime{site: s, pages: preparePages(s), frags: make(map[string]*fragRuntime, len(s.Fragments)), forward: forwardListOf(s)}
	for name, f := range s.Fragments {
		fr := &fragRuntime{f: f, m: m.fragment(name), keys: newKeyBound(f), fragMemory: new(fragMemory)}
		if old != nil {
			if prev := old.frags[name]; prev != nil {
				fr.fragMemory = prev.fragMemory
				if sameUpstream(prev.f, f) {
					fr.up = prev.up
				}
			}
		}
		if fr.up == nil {
			fr.up = upstream.NewClient(f.URL, target(f))
		}
		rt.frags[name] = fr
	}
	return rt
}

// sameUpstream reports whether two configs of a fragment can share a
// client and a breaker.
func sameUpstream(a, b *config.Fragment) bool {
	return a.URL == b.URL && a.MaxBytes == b.MaxBytes && a.Auth == b.Auth && a.Secret() == b.Secret() &&
		a.Breaker == b.Breaker
}

// release frees what rt owns and the runtime in force (current) did not
// take over: idle connections are closed, and the series of fragments no
// longer configured are dropped (m nil keeps them, as when closing).
func (rt *runtime) release(current func(name string) *fragRuntime, m *meters) {
	for name, fr := range rt.frags {
		kept := current(name)
		if kept == nil || kept.up != fr.up {
			fr.up.CloseIdleConnections()
		}
		if kept == nil && m != nil {
			m.drop(name)
		}
	}
}

// target is how f's upstream client calls it.
func target(f *config.Fragment) upstream.Target {
	return upstream.Target{
		Name: f.Name, Timeout: f.Timeout, MaxBytes: f.MaxBytes, Auth: f.Auth, Secret: f.Secret(),
		Accepts: f.AcceptsVersion, Version: f.Version, SetCookies: f.SetCookies,
		RedirectHosts: f.RedirectHosts(), Breaker: f.Breaker,
	}
}

// fetcher sends one upstream call for a fragment, bounded by deadline,
// whose answer is received later: a page sends several before it waits on
// any. It must be safe for concurrent use. The composer's is
// upstreamFetcher; tests use fakes.
type fetcher interface {
	send(fr *fragRuntime, req *upstream.Request, deadline time.Time) receiver
}

// receiver is a sent call's answer to come. Wait reports whether it has
// begun to arrive within d, or is known at once, without reading it (false
// when the receiver cannot tell); Receive is called once.
type receiver interface {
	Wait(d time.Duration) bool
	Receive() (*upstream.Answer, error)
}

// upstreamFetcher calls fragment services with each fragment's own client.
type upstreamFetcher struct{}

func (upstreamFetcher) send(fr *fragRuntime, req *upstream.Request, deadline time.Time) receiver {
	return fr.up.Send(req, deadline)
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
