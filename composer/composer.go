package composer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// Options configure a Composer.
type Options struct {
	// Site is the initial configuration; required.
	Site *Site
	// Cache stores fragment renderings; required (use memcache without Redis).
	Cache Cache
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Metrics receives the composer's series; nil creates a private set.
	Metrics *metrics.Set
	// FanOut bounds concurrent fragment fetches per page (default 16).
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
	site        atomic.Pointer[Site]
	tuning      atomic.Pointer[Tuning]
	cache       Cache
	up          upstream
	brk         breakers
	flight      singleflight.Group
	refresh     singleflight.Group
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
	c := &Composer{cache: o.Cache, log: o.Logger, m: newMeters(o.Metrics), fanOut: o.FanOut, streamAbove: o.StreamAbove, observer: o.Observer}
	c.tuning.Store(&Tuning{})
	c.SetSite(o.Site)
	return c, nil
}

// SetSite swaps in a new configuration. Pages in flight finish with the one
// they started with.
func (c *Composer) SetSite(s *Site) {
	for name := range s.Fragments {
		c.m.fragment(name)
	}
	c.site.Store(s)
}

// BreakerState reports a fragment's circuit: "closed", "open",
// "half-open", or "" when it has none yet.
func (c *Composer) BreakerState(name string) string { return c.brk.state(name) }

// Site returns the configuration in force.
func (c *Composer) Site() *Site { return c.site.Load() }

// Close waits (up to a few seconds) for background refreshes and cache
// writes to end.
func (c *Composer) Close() error {
	c.closing.Store(true)
	done := make(chan struct{})
	go func() { c.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("composer: background work still running after 5s")
	}
}

// ServePage composes the page for path onto rc. It reports false when no
// page is configured at that path.
func (c *Composer) ServePage(rc *fasthttp.RequestCtx, path string) bool {
	site := c.site.Load()
	p, params := site.route(path)
	if p == nil {
		return false
	}
	c.serve(rc, site, p, params)
	return true
}

// slotRun is the state of one slot while a page is composed.
type slotRun struct {
	slot   *Slot
	key    string
	req    fetchRequest
	stale  *Entry
	body   []byte
	result string // hit, miss, stale, error
	served string // "", "stale", "fallback", "empty"
	err    error
	dur    time.Duration
	ready  bool   // the cache had a servable copy
	spanID string // the span of this slot's fetch, sent to the fragment
	start  time.Time
	done   chan struct{} // nil when the slot was ready at once
}

// failed reports that nothing the fragment made is on the page.
func (s *slotRun) failed() bool { return s.served == "fallback" || s.served == "empty" }

type pageRun struct {
	c      *Composer
	site   *Site
	page   *Page
	start  time.Time
	ctx    context.Context
	cancel context.CancelFunc
	ids    requestIDs
	inputs map[string]string
	fwd    forwardable
	slots  []slotRun
	budget *budget
	g      errgroup.Group
}

func (c *Composer) serve(rc *fasthttp.RequestCtx, site *Site, p *Page, params map[string]string) {
	r := &pageRun{c: c, site: site, page: p, start: time.Now()}
	var budget time.Duration
	for _, s := range p.slots {
		budget = max(budget, s.Fragment.Timeout)
	}
	r.ctx, r.cancel = context.WithTimeout(context.Background(), budget+time.Second)
	r.ids = readRequestIDs(rc)
	r.inputs = readInputs(rc, site.Inputs)
	for k, v := range params {
		if r.inputs == nil {
			r.inputs = make(map[string]string, len(params))
		}
		r.inputs[k] = v
	}
	r.fwd = readForwardable(rc, site)
	r.budget = newBudget(site.Limits, len(p.slots))
	r.slots = make([]slotRun, len(p.slots))
	keys := make([]string, len(p.slots))
	for i, s := range p.slots {
		r.slots[i] = r.newSlotRun(s)
		keys[i] = r.slots[i].key
	}
	entries := r.lookup(keys)
	now := time.Now()
	// Which slots are still out, and whether the page should stream: it
	// does when a fragment still out typically answers slower than
	// streamAbove; otherwise one buffered response (one write,
	// Content-Length, timings) costs less than chunks. Waits stay bounded
	// by each fragment's timeout either way.
	var pending []*slotRun
	whole := p.stream != streamAlways
	for i := range r.slots {
		sr := &r.slots[i]
		sr.ready = r.classify(sr, entries[i], now)
		if sr.ready && !hasMarker(sr.body) {
			sr.body = r.nested(sr.body, []string{sr.slot.Fragment.Name})
			continue
		}
		sr.done = make(chan struct{})
		pending = append(pending, sr)
		if !sr.ready && c.m.fragment(sr.slot.Fragment.Name).typical() >= c.streamAbove {
			whole = false
		}
	}
	if p.stream == streamNever {
		whole = true
	}
	// Fan out: each slot goroutine writes only its own slotRun and records
	// failures there (a page degrades, it does not fail), so the group
	// never returns an error; it bounds concurrency and is waited for when
	// the page ends. A page sent whole runs its last slot on this
	// goroutine, which would only wait otherwise.
	r.g.SetLimit(c.fanOut)
	inline := len(pending) - 1
	if !whole || p.hasPrimary {
		inline = -1
	}
	for i, sr := range pending {
		if i == inline {
			r.runSlot(sr)
			continue
		}
		r.g.Go(func() error {
			r.runSlot(sr)
			return nil
		})
	}
	rc.Response.Header.SetContentType("text/html; charset=utf-8")
	rc.Response.Header.Set("X-Request-Id", r.ids.requestID)
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")

	if p.hasPrimary {
		for i := range r.slots {
			sr := &r.slots[i]
			if !sr.slot.Primary {
				continue
			}
			if sr.done != nil {
				<-sr.done
			}
			if sr.failed() {
				r.failPrimary(rc, sr)
				return
			}
		}
	}
	if !whole {
		rc.SetBodyStreamWriter(r.stream)
		return
	}
	for _, sr := range pending {
		<-sr.done
	}
	r.writeWhole(rc)
}

// runSlot resolves a slot that was not ready from the cache, and any
// fragments nested in it, then marks it done.
func (r *pageRun) runSlot(sr *slotRun) {
	defer close(sr.done)
	if !sr.ready {
		r.resolve(sr)
	}
	sr.body = r.nested(sr.body, []string{sr.slot.Fragment.Name})
}

// writeWhole writes a page whose slots are all ready, with Content-Length,
// Server-Timing and Cache-Status.
func (r *pageRun) writeWhole(rc *fasthttp.RequestCtx) {
	defer r.finish()
	var st, cs []byte
	for i := range r.slots {
		sr := &r.slots[i]
		if i > 0 {
			st = append(st, ", "...)
			cs = append(cs, ", "...)
		}
		st = appendServerTiming(st, sr)
		cs = appendCacheStatus(cs, sr)
	}
	rc.Response.Header.SetBytesV("Server-Timing", st)
	rc.Response.Header.SetBytesV("Cache-Status", cs)
	for _, part := range r.page.parts {
		if part.slot == nil {
			_, _ = rc.Write(part.static)
			continue
		}
		_, _ = rc.Write(r.slots[part.slot.index].body)
	}
	if r.site.Debug {
		_, _ = rc.Write(r.debugComment())
	}
}

// stream writes the page as its slots become ready, in document order.
// It runs after the handler returned and must not touch the RequestCtx.
func (r *pageRun) stream(w *bufio.Writer) {
	defer r.finish()
	for _, part := range r.page.parts {
		if part.slot == nil {
			if _, err := w.Write(part.static); err != nil {
				return
			}
			continue
		}
		sr := &r.slots[part.slot.index]
		if sr.done != nil {
			select {
			case <-sr.done:
			default:
				if w.Buffered() > 0 {
					if err := w.Flush(); err != nil {
						return // the client went away
					}
				}
				if !r.await(w, sr.done) {
					return
				}
			}
		}
		if _, err := w.Write(sr.body); err != nil {
			return
		}
	}
	if r.site.Debug {
		_, _ = w.Write(r.debugComment())
	}
}

// heartbeat is how often a streamed page that is waiting for a slot
// checks that its client is still there.
const heartbeat = 250 * time.Millisecond

// await waits for done while the client listens. A connection is only
// known to be gone when a write to it fails, so while it waits it writes a
// newline (harmless between elements) now and then; it reports false when
// the client went away, which ends the page and its fetches.
func (r *pageRun) await(w *bufio.Writer, done <-chan struct{}) bool {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-done:
			return true
		case <-t.C:
			if err := w.WriteByte('\n'); err != nil {
				return false
			}
			if err := w.Flush(); err != nil {
				return false
			}
		}
	}
}

// finish ends the page: it stops outstanding waits and records metrics.
func (r *pageRun) finish() {
	r.cancel()
	_ = r.g.Wait()
	r.c.m.page(r.page.Path).Update(sinceSeconds(r.start))
	r.noteRefusals()
	r.report(200)
}

// report tells the observer, if any, how the page and each slot went.
func (r *pageRun) report(status int) {
	obs := r.c.observer
	if obs == nil {
		return
	}
	for i := range r.slots {
		sr := &r.slots[i]
		start := sr.start
		if start.IsZero() {
			start = r.start
		}
		obs.ObserveSlot(SlotEvent{
			Page: r.page.Path, Fragment: sr.slot.Fragment.Name, RequestID: r.ids.requestID,
			TraceID: r.ids.traceID, SpanID: sr.spanID, ParentID: r.ids.spanID,
			Result: sr.result, Served: sr.served, Start: start, Dur: sr.dur, Err: sr.err,
		})
	}
	obs.ObservePage(PageEvent{
		Page: r.page.Path, RequestID: r.ids.requestID, TraceID: r.ids.traceID, SpanID: r.ids.spanID,
		ParentID: r.ids.parentID, Status: status, Start: r.start, Dur: time.Since(r.start),
	})
}

// failPrimary answers with an error page: a primary fragment could not be
// served at all.
func (r *pageRun) failPrimary(rc *fasthttp.RequestCtx, sr *slotRun) {
	r.cancel()
	status := fasthttp.StatusBadGateway
	if errors.Is(sr.err, ErrFragmentTimeout) {
		status = fasthttp.StatusGatewayTimeout
	}
	go func() { _ = r.g.Wait(); r.c.m.page(r.page.Path).Update(sinceSeconds(r.start)); r.report(status) }()
	r.c.log.Warn("primary fragment unavailable", "page", r.page.Path, "fragment", sr.slot.Fragment.Name, "err", sr.err, "request_id", r.ids.requestID)
	renderError(rc, status, "This page is temporarily unavailable",
		"Part of this page could not be loaded. Please try again in a moment.", r.ids.requestID)
}

// classify sets a slot from its cache entry; it reports whether the slot is
// ready (fresh, or stale inside its revalidation window) or must be fetched.
func (r *pageRun) classify(sr *slotRun, e *Entry, now time.Time) bool {
	f := sr.slot.Fragment
	if e != nil && !f.acceptsVersion(e.Version) {
		e = nil
	}
	switch r.c.freshness(f, e).state(e, now) {
	case stateFresh:
		sr.body, sr.result = e.Body, resultHit
	case stateStale:
		sr.body, sr.result, sr.served = e.Body, resultStale, "stale"
		r.c.refreshInBackground(f, sr.req, sr.key)
	case stateUsable:
		sr.stale = e
		return false
	default:
		return false
	}
	r.c.m.fragment(f.Name).result(sr.result)
	return true
}

// resolve fetches a slot that was not fresh in the cache, coalesced with
// every other request for the same key and the same forwarded values. It
// returns within the fragment's timeout, with the body, a stale copy, the
// fallback or a placeholder. An answer that is not shareable is used only
// by the request that fetched it: a waiter that was handed one fetches its
// own.
func (r *pageRun) resolve(sr *slotRun) {
	f := sr.slot.Fragment
	fm := r.c.m.fragment(f.Name)
	start := time.Now()
	sr.start = start
	var ran atomic.Bool
	fetch := func() (any, error) {
		ran.Store(true)
		if e := r.c.recentEntry(sr.key); e != nil && r.c.freshness(f, e).state(e, time.Now()) == stateFresh {
			return &fetchResult{body: e.Body, version: e.Version, shareable: true}, nil
		}
		return r.c.fetchAndStore(f, sr.req, sr.key)
	}
	var ch <-chan singleflight.Result
	if r.c.freshness(f, nil).ttl > 0 || !f.TTLSet {
		ch = r.c.flight.DoChan(sr.key+"\x00"+sr.req.personal, fetch)
	} else {
		// A fragment configured not to be cached is fetched per page.
		ch = r.c.fetchAsync(fetch)
	}
	timer := time.NewTimer(f.Timeout)
	defer timer.Stop()
	for ch != nil {
		select {
		case res := <-ch:
			ch = nil
			switch {
			case res.Err != nil:
				sr.err = res.Err
			case !res.Val.(*fetchResult).shareable && !ran.Load():
				// Another user's answer: fetch this user's own.
				ch = r.c.fetchAsync(fetch)
			default:
				sr.body = res.Val.(*fetchResult).body
			}
		case <-timer.C:
			ch, sr.err = nil, fmt.Errorf("%w: %s after %s", ErrFragmentTimeout, f.Name, f.Timeout)
		case <-r.ctx.Done():
			ch, sr.err = nil, fmt.Errorf("%w: %s: page ended", ErrFragmentTimeout, f.Name)
		}
	}
	sr.dur = time.Since(start)
	fm.observe(sr.dur)
	if sr.err == nil {
		sr.result = resultMiss
		fm.result(resultMiss)
		return
	}
	switch {
	case sr.stale != nil:
		sr.body, sr.result, sr.served = sr.stale.Body, resultStale, "stale"
	case len(f.Fallback) > 0:
		sr.body, sr.result, sr.served = f.Fallback, resultError, "fallback"
	default:
		sr.body, sr.result, sr.served = emptySlot(f.Name), resultError, "empty"
	}
	fm.result(sr.result)
	fm.served[sr.served].Inc()
}

// fetchAsync runs fetch on its own goroutine; the call is bounded by the
// fragment's timeout, so a caller that stops waiting leaks nothing for long.
func (c *Composer) fetchAsync(fetch func() (any, error)) <-chan singleflight.Result {
	res := make(chan singleflight.Result, 1)
	go func() {
		v, err := fetch()
		res <- singleflight.Result{Val: v, Err: err}
	}()
	return res
}

// fetchAndStore makes one upstream call and, when the answer may be shared,
// stores it without holding the caller up.
func (c *Composer) fetchAndStore(f *Fragment, req fetchRequest, key string) (*fetchResult, error) {
	fm := c.m.fragment(f.Name)
	start := time.Now()
	res, err := c.brk.get(f).run(f.Name, func() (*fetchResult, error) {
		fm.fetches.Inc()
		res, err := c.up.fetch(f, &req, start.Add(f.Timeout))
		fm.fetchSeconds.Update(sinceSeconds(start))
		return res, err
	})
	if errors.Is(err, ErrCircuitOpen) {
		fm.fetchError("circuit_open")
		return nil, err
	}
	if err != nil {
		fm.record(time.Since(start), "", err)
	} else {
		fm.record(time.Since(start), res.version, nil)
	}
	if err != nil {
		fm.fetchError(errorReason(err))
		c.log.Warn("fragment fetch failed", "fragment", f.Name, "err", err, "dur", time.Since(start))
		return nil, err
	}
	if !res.shareable {
		return res, nil
	}
	e := &Entry{Body: res.body, Version: res.version, Stored: start, MaxAge: res.cc.TTL(), SWR: res.cc.SWR, SIE: res.cc.SIE}
	keep := c.freshness(f, e).keep()
	if keep <= 0 || c.closing.Load() {
		return res, nil
	}
	if _, loaded := c.recent.Swap(key, e); !loaded {
		c.nRecent.Add(1)
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		// Keep the entry visible a little past the write, for requests
		// that looked the key up before it was filled and join the flight
		// after it ended.
		defer time.AfterFunc(recentLinger, func() {
			if c.recent.CompareAndDelete(key, e) {
				c.nRecent.Add(-1)
			}
		})
		if err := c.cache.Set(ctx, key, e, keep); err != nil {
			c.m.redis.Inc()
			c.log.Debug("cache write failed", "fragment", f.Name, "key", key, "err", err)
		}
	}()
	return res, nil
}

func (c *Composer) recentEntry(key string) *Entry {
	if v, ok := c.recent.Load(key); ok {
		return v.(*Entry)
	}
	return nil
}

const recentLinger = 2 * time.Second

// refreshInBackground refetches a stale key once per composer, and, where
// the cache can lock, once across composers.
func (c *Composer) refreshInBackground(f *Fragment, req fetchRequest, key string) {
	if c.closing.Load() {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		_, _, _ = c.refresh.Do(key, func() (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			ok, err := c.cache.TryLock(ctx, "refresh:"+key, 2*f.Timeout)
			cancel()
			if err != nil || !ok {
				// Another composer is refreshing it, or the cache cannot
				// say; a cache that cannot lock could not store the
				// refreshed copy either.
				return nil, nil
			}
			res := <-c.flight.DoChan(key, func() (any, error) { return c.fetchAndStore(f, req, key) })
			return nil, res.Err
		})
	}()
}

// freshness is the policy for f's entry e: run-time tuning first, then the
// config, then what the fragment declared.
func (c *Composer) freshness(f *Fragment, e *Entry) freshness {
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
	c.tuning.Load().apply(f.Name, &fr)
	return fr
}
