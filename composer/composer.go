package composer

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
)

// Options configure a Composer.
type Options struct {
	// Site is the initial configuration; required.
	Site *config.Site
	// Cache stores fragment renderings; required (use memcache without Redis).
	Cache Cache
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives the composer's series; nil creates a private set.
	Metrics *metrics.Set
	// FanOut bounds concurrent fragment fetches per page, nested ones
	// included (default 16).
	FanOut int
	// Observer, when set, is told how every page and slot was served
	// (for tracing).
	Observer Observer
	// StreamAbove: a page whose outstanding fragments typically answer
	// faster than this is sent whole rather than streamed (default 10ms).
	StreamAbove time.Duration
}

// Composer serves pages stitched from fragments. It is safe for concurrent
// use; the site can be swapped at run time with SetSite.
type Composer struct {
	rt          atomic.Pointer[runtime]
	tuning      atomic.Pointer[Tuning]
	cache       Cache
	fetcher     fetcher
	clock       clock
	flight      singleflight.Group
	refresh     refresher
	log         *slog.Logger
	m           *meters
	fanOut      int
	streamAbove time.Duration
	observer    Observer
	bg          sync.WaitGroup
	closing     atomic.Bool
	// recent holds entries fetched but possibly not yet visible in the
	// cache (writes are asynchronous), so that a request arriving in that
	// gap does not fetch again.
	recent  sync.Map // key -> *Entry
	nRecent atomic.Int64
	// assets are the fragments' assets served under AssetPrefix.
	assets assetStore
	// workers run the pages' slots.
	workers *workers
	// reloadMu serialises SetSite, which hands resources from the old
	// runtime to the new one.
	reloadMu sync.Mutex
	// releaseAfter is how long a replaced runtime's resources outlive it:
	// past the longest page a config can allow.
	releaseAfter time.Duration
}

// New returns a Composer.
func New(o Options) (*Composer, error) {
	if o.Site == nil {
		return nil, errors.New("composer: no site")
	}
	if o.Cache == nil {
		return nil, errors.New("composer: no cache")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.FanOut <= 0 {
		o.FanOut = 16
	}
	if o.StreamAbove <= 0 {
		o.StreamAbove = 10 * time.Millisecond
	}
	c := &Composer{
		cache: o.Cache, log: o.Logger, m: newMeters(o.Metrics), fanOut: o.FanOut,
		streamAbove: o.StreamAbove, observer: o.Observer, clock: realClock{}, fetcher: upstreamFetcher{},
		releaseAfter: config.MaxTimeout + 5*time.Second, workers: newWorkers(),
	}
	c.refresh.pending = map[string]time.Time{}
	c.tuning.Store(&Tuning{})
	c.SetSite(o.Site)
	return c, nil
}

// SetSite swaps in a new configuration. Pages in flight finish with the one
// they started with; the per-fragment resources the new one does not take
// over are released once they have had time to end.
func (c *Composer) SetSite(s *config.Site) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	old := c.rt.Load()
	rt := newRuntime(s, old, c.m)
	c.rt.Store(rt)
	if old != nil {
		time.AfterFunc(c.releaseAfter, func() { old.release(c.fragmentInForce, c.m) })
	}
}

// fragmentInForce is the runtime of the named fragment in the config in
// force, nil when it has none.
func (c *Composer) fragmentInForce(name string) *fragRuntime { return c.rt.Load().fragment(name) }

// Site returns the configuration in force.
func (c *Composer) Site() *config.Site { return c.rt.Load().site }

// BreakerState reports a fragment's circuit: "closed", "open",
// "half-open", or "" when it has none.
func (c *Composer) BreakerState(name string) string {
	if fr := c.rt.Load().frags[name]; fr != nil {
		return fr.up.BreakerState()
	}
	return ""
}

// Close waits (up to a few seconds) for background refreshes and cache
// writes to end, and releases the per-fragment resources.
func (c *Composer) Close() error {
	c.closing.Store(true)
	c.workers.stop()
	done := make(chan struct{})
	go func() { c.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return errors.New("composer: background work still running after 5s")
	}
	c.rt.Load().release(func(string) *fragRuntime { return nil }, nil)
	return nil
}

// ServePage composes the page for path onto rc: the whole request path,
// one step after the other. It reports false when no page is configured at
// that path.
func (c *Composer) ServePage(rc *fasthttp.RequestCtx, path string) bool {
	rt := c.rt.Load()
	cp, params := rt.site.Route(path)
	if cp == nil {
		return false
	}
	page := rt.pages[cp]
	if !rc.IsGet() && !rc.IsHead() {
		RenderError(rc, fasthttp.StatusMethodNotAllowed, "Method not allowed", "Pages can only be read.", "")
		rc.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
		return true
	}
	req := readRequest(rc, rt, params)
	pl := planPage(rt.site, page, req, c.tuning.Load()) // 1. plan (pure)
	r := c.startPage(rt, pl)
	r.hint(rc)                                     //    early hints: assets known from last time
	entries := r.lookup(pl.slots)                  // 2. lookup: one round trip
	pending := r.classify(r.top, entries)          //    fresh, stale or to fetch
	whole := r.delivery(pending)                   //    sent whole or streamed
	r.fanOut(pending, whole && !page.HasPrimary()) // 3. fan-out, nested levels included
	r.stitch(rc, whole)                            // 4. stitch; 5. observe as the page ends
	return true
}

// Every goroutine the composer starts goes through goSafe or background:
// a panic is logged once with its stack and counted, and the process lives.

// goSafe runs fn on a goroutine of its own (one of the workers); onPanic,
// when set, is given the panic as an error (a slot's goroutine records it
// as the slot's error).
func (c *Composer) goSafe(where string, fn func(), onPanic func(error)) {
	c.workers.run(func() {
		defer c.recoverPanic(where, nil, onPanic)
		fn()
	})
}

// background runs fn on its own goroutine that Close waits for: refreshes
// and cache writes. It reports false, running nothing, once Close began.
func (c *Composer) background(where string, fn func()) bool {
	if c.closing.Load() {
		return false
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.recoverPanic(where, nil, nil)
		fn()
	}()
	return true
}

// recoverPanic, deferred, turns a panic into a log line, a count and, when
// into is set, the error it is given. what is the slot, fragment or page
// it happened for (nil when none), named only when there was a panic.
func (c *Composer) recoverPanic(where string, what any, into func(error)) {
	p := recover()
	if p == nil {
		return
	}
	c.m.panics.Inc()
	switch w := what.(type) {
	case *plannedSlot:
		what = w.name()
	case *config.Fragment:
		what = w.Name
	case *config.Page:
		what = w.Path
	}
	c.log.Error("panic recovered", "where", where, "slot", what, "err", fmt.Sprint(p), "stack", string(debug.Stack()))
	if into != nil {
		into(fmt.Errorf("%w: %v", upstream.ErrPanic, p))
	}
}

// freshness is the policy for f's entry e: run-time tuning first, then the
// config, then what the fragment declared.
func (c *Composer) freshness(f *config.Fragment, e *Entry) freshness {
	var fr freshness
	if e != nil {
		fr = freshness{ttl: e.MaxAge, swr: e.SWR, sie: e.SIE}
	}
	if f.TTLSet {
		fr.ttl = f.TTL
	}
	if f.SWR > 0 {
		fr.swr = f.SWR
	}
	if f.SIE > 0 {
		fr.sie = f.SIE
	}
	applyTuning(c.tuning.Load(), f.Name, &fr)
	return fr
}
