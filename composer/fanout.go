package composer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/composer/zparts"
)

// pageRun is one page being composed: its plan, and the state of every
// slot, nested ones included.
type pageRun struct {
	c      *Composer
	rt     *runtime
	pl     plan
	start  time.Time
	ctx    context.Context
	cancel context.CancelFunc
	// sem bounds the page's upstream fetches in flight, nested ones
	// included; a slot holds it only while it fetches, never while it
	// waits for slots nested in it.
	sem chan struct{}
	top []*slotRun
	// wg counts every slot goroutine of the page.
	wg sync.WaitGroup
	mu sync.Mutex
	// nested are the page's nested slots, for observing.
	nested []*slotRun
	// status is the page's status, once its primaries are in.
	status int
	// placed are the assets on the page so far; only the page's writer
	// touches it.
	placed []pageAsset
	// nonce is the page's CSP nonce ("" when the site sets no policy).
	nonce string
}

// slotRun is one slot while the page is composed. Its result is written by
// the one goroutine that resolves it, before done is closed (done is nil
// when the slot was ready from the cache at once).
type slotRun struct {
	ps  *plannedSlot
	res slotResult
	// ready is that its markup is in — from the cache, or an answer read
	// ahead — and only the slots nested in it may be left.
	ready bool
	stale *Entry
	done  chan struct{}
	// sent is the slot's upstream call when the page sent it ahead of
	// waiting on any (its call is nil otherwise); it holds a fetch place.
	sent sentFetch
}

// slotResult is how a slot was filled.
type slotResult struct {
	body []byte
	// block is body compressed ahead of time, when it came from the cache
	// as it is; nil otherwise.
	block *zparts.Block
	// meta is what the answer declared besides its markup; cookies its
	// Set-Cookie values a primary passes on; private that it was for
	// this user alone.
	meta    *Meta
	cookies [][]byte
	private bool
	// nestedAssets are the assets of the slots nested in it (its own
	// are its meta's), once the slot is done.
	nestedAssets []pageAsset
	result       cacheResult
	served       servedAs
	err          error
	start        time.Time
	dur          time.Duration
}

func (c *Composer) startPage(rt *runtime, pl plan) *pageRun {
	r := &pageRun{c: c, rt: rt, pl: pl, start: c.clock.Now(), sem: make(chan struct{}, c.fanOut)}
	r.ctx, r.cancel = context.WithTimeout(context.Background(), pl.deadline)
	runs := make([]slotRun, len(pl.slots))
	r.top = make([]*slotRun, len(pl.slots))
	for i := range pl.slots {
		runs[i].ps = &pl.slots[i]
		r.top[i] = &runs[i]
	}
	return r
}

// decide is the freshness state machine for one slot's cache entry: an
// entry of a version the fragment no longer accepts counts as missing.
func decide(f *config.Fragment, fr freshness, e *Entry, now time.Time) entryState {
	if e != nil && !f.AcceptsVersion(e.Version) {
		return stateMissing
	}
	return fr.state(e, now)
}

// classify sets each slot from its cache entry and returns the slots that
// still need work: a fetch, or nested slots to fill.
func (r *pageRun) classify(slots []*slotRun, entries []*Entry) []*slotRun {
	now := r.c.clock.Now()
	var pending []*slotRun
	for i, sr := range slots {
		f := sr.ps.slot.Fragment
		fr := r.rt.fragment(f.Name)
		e := entries[i]
		switch decide(f, r.c.freshness(f, e), e, now) {
		case stateFresh:
			sr.ready, sr.res.body, sr.res.meta, sr.res.result = true, e.Body, e.Meta, resultHit
		case stateStale:
			sr.ready, sr.res.body, sr.res.meta, sr.res.result, sr.res.served = true, e.Body, e.Meta, resultStale, servedStale
			r.c.scheduleRefresh(fr, sr.ps)
		case stateUsable:
			sr.stale = e
		}
		if sr.ready {
			fr.learnAssets(e.Meta)
			fr.sharing.CompareAndSwap(sharingUnknown, sharingShared) // cached, so shared
			if err := statusAllowed(sr.ps, e.Meta); err != nil {
				r.degrade(sr, err)
			} else {
				fr.m.result(sr.res.result)
			}
			if !hasMarker(sr.res.body) {
				sr.res.body = r.charge(sr.res.body, f.Name)
				sr.res.block = blockFor(e, sr.res.body)
				continue
			}
		}
		sr.done = make(chan struct{})
		pending = append(pending, sr)
	}
	return pending
}

// fanOut is step 3: it resolves the pending slots in parallel, each on its
// own goroutine. The requests of fragments fetched per page are all
// written first, so that their services work on them at once. With inline
// set, this goroutine, which would only wait otherwise, does some of the
// work: it reads the answers sent ahead that are in, else it resolves the
// last slot.
func (r *pageRun) fanOut(pending []*slotRun, inline bool) {
	sent := 0
	for _, sr := range pending {
		if r.sendAhead(sr) {
			sent++
		}
	}
	for i, sr := range pending {
		switch {
		case inline && sr.sent.call != nil:
			// received below
		case inline && sent == 0 && i == len(pending)-1:
			r.runSlot(sr)
		default:
			r.goSlot(sr)
		}
	}
	if inline && sent > 0 {
		r.receiveInline(pending)
	}
}

// inlineWait is how long a page's goroutine waits for the first bytes of
// an answer it sent ahead before it leaves that slot, and the ones after
// it, to goroutines of their own: twice the fragment's typical answer
// time, within [minInlineWait, maxInlineWait].
func inlineWait(typical time.Duration) time.Duration {
	return min(max(2*typical, minInlineWait), maxInlineWait)
}

const (
	minInlineWait = 2 * time.Millisecond
	maxInlineWait = 20 * time.Millisecond
)

// receiveInline resolves the slots sent ahead on this goroutine, in
// order, as long as each answer is in within its inlineWait: answers
// already there cost no goroutine and no wait. From the first that is not,
// the rest go to goroutines of their own, so that a slow answer delays the
// reading of the others by that wait at most. Nested slots are expanded
// once every answer is read.
func (r *pageRun) receiveInline(pending []*slotRun) {
	quick := true
	for _, sr := range pending {
		if sr.sent.call == nil {
			continue
		}
		wait := inlineWait(r.rt.fragment(sr.ps.slot.Fragment.Name).m.typical())
		if quick = quick && sr.sent.call.Wait(wait); !quick {
			r.goSlot(sr)
			continue
		}
		func() {
			defer r.c.recoverPanic("slot", sr.ps, func(err error) { r.degrade(sr, err) })
			r.resolve(sr)
		}()
		sr.ready = true
	}
	for _, sr := range pending {
		if sr.sent.call != nil && sr.ready {
			r.runSlot(sr)
		}
	}
}

// sendAhead sends the upstream call of a slot whose fragment is not
// cached, when a fetch place is free at once; the slot receives its answer
// when it runs. A panic sending it is the slot's error.
func (r *pageRun) sendAhead(sr *slotRun) (sent bool) {
	f := sr.ps.slot.Fragment
	if sr.ready || !r.c.uncached(f) {
		return false
	}
	select {
	case r.sem <- struct{}{}:
	default:
		return false // the slot waits for a place when it runs
	}
	fr := r.rt.fragment(f.Name)
	sr.res.start = r.c.clock.Now()
	defer r.c.recoverPanic("fetch", f, func(err error) { sr.sent, sent = sentFetch{start: sr.res.start, call: failed{err}}, true })
	sr.sent = r.c.send(fr, sr.ps)
	return true
}

// failed is a call that could not be sent.
type failed struct{ err error }

func (failed) Wait(time.Duration) bool              { return true }
func (f failed) Receive() (*upstream.Answer, error) { return nil, f.err }

// goSlot runs a slot on its own goroutine, which the page waits for.
func (r *pageRun) goSlot(sr *slotRun) {
	r.wg.Add(1)
	r.c.goSafe("slot", func() {
		defer r.wg.Done()
		r.runSlot(sr)
	}, nil)
}

// runSlot resolves a slot that was not ready from the cache, and the slots
// nested in it, then marks it done. A panic degrades this slot alone.
func (r *pageRun) runSlot(sr *slotRun) {
	defer close(sr.done)
	defer r.c.recoverPanic("slot", sr.ps, func(err error) { r.degrade(sr, err) })
	if !sr.ready {
		r.resolve(sr)
	}
	r.expand(&sr.res, sr.ps)
}

// resolve fetches a slot within the fragment's timeout and records how it
// was filled: the answer, else a stale copy, the fallback or a placeholder.
func (r *pageRun) resolve(sr *slotRun) {
	ps := sr.ps
	f := ps.slot.Fragment
	fr := r.rt.fragment(f.Name)
	if sr.sent.call == nil {
		sr.res.start = r.c.clock.Now()
	}
	timeout := lazyTimer{clock: r.c.clock, at: sr.res.start.Add(f.Timeout)}
	defer timeout.stop()
	a, err := r.fetchSlot(fr, sr, &timeout)
	sr.res.dur = r.c.clock.Now().Sub(sr.res.start)
	fr.m.observe(sr.res.dur)
	if err == nil {
		err = statusAllowed(ps, a.Meta)
	}
	if err != nil {
		r.degrade(sr, err)
		return
	}
	sr.res.body, sr.res.meta, sr.res.result, sr.res.private = a.Body, a.Meta, resultMiss, !a.Shareable
	if ps.slot.Primary {
		sr.res.cookies = a.Cookies
	}
	fr.m.result(resultMiss)
}

// fetchSlot takes one of the page's fetch places, waiting for it no
// longer than the slot's timeout, and fetches the slot; a slot sent ahead
// holds its place already and receives its answer.
func (r *pageRun) fetchSlot(fr *fragRuntime, sr *slotRun, timeout *lazyTimer) (*upstream.Answer, error) {
	if sr.sent.call != nil {
		defer func() { <-r.sem }()
		return r.c.receiveAndStore(fr, sr.ps, sr.sent)
	}
	select {
	case r.sem <- struct{}{}:
	default:
		select {
		case r.sem <- struct{}{}:
		case <-timeout.C():
			return nil, fmt.Errorf("%w: %s after %s (waiting to fetch)", upstream.ErrFragmentTimeout, fr.f.Name, fr.f.Timeout)
		case <-r.ctx.Done():
			return nil, fmt.Errorf("%w: %s: page ended", upstream.ErrFragmentTimeout, fr.f.Name)
		}
	}
	defer func() { <-r.sem }()
	return r.c.coalesced(fr, sr.ps, timeout, r.ctx.Done())
}

// lazyTimer is a slot's timeout, set on the clock only once something
// waits on it: a slot fetched on its own goroutine, bounded by the
// fetch's deadline, never needs one.
type lazyTimer struct {
	clock clock
	at    time.Time
	c     <-chan time.Time
	stopC func() bool
}

// C is the channel that receives at the timeout.
func (t *lazyTimer) C() <-chan time.Time {
	if t.c == nil {
		t.c, t.stopC = t.clock.NewTimer(t.at.Sub(t.clock.Now()))
	}
	return t.c
}

func (t *lazyTimer) stop() {
	if t.stopC != nil {
		t.stopC()
	}
}

// statusAllowed reports the error a non-primary slot's answer of another
// status than 200 is: only a primary sets the page's status.
func statusAllowed(ps *plannedSlot, m *Meta) error {
	if m == nil || m.Status == 0 || ps.slot.Primary {
		return nil
	}
	return fmt.Errorf("%w: %s: %d (only a primary slot may set the page's status)", upstream.ErrFragmentStatus, ps.slot.Fragment.Name, m.Status)
}

// degrade fills a slot that could not be fetched: its stale copy, the
// fallback for its place (its view's, else the fragment's), or the empty
// placeholder.
func (r *pageRun) degrade(sr *slotRun, err error) {
	f := sr.ps.slot.Fragment
	sr.res.err, sr.res.meta, sr.res.cookies = err, nil, nil
	switch {
	case sr.stale != nil && statusAllowed(sr.ps, sr.stale.Meta) == nil:
		sr.res.body, sr.res.meta, sr.res.result, sr.res.served = sr.stale.Body, sr.stale.Meta, resultStale, servedStale
	case len(sr.ps.slot.Fallback()) > 0:
		sr.res.body, sr.res.result, sr.res.served = sr.ps.slot.Fallback(), resultError, servedFallback
	default:
		sr.res.body, sr.res.result, sr.res.served = emptySlot(f.Name), resultError, servedEmpty
	}
	m := r.rt.fragment(f.Name).m
	m.result(sr.res.result)
	m.degraded(sr.res.served)
}

// coalesced fetches a slot, sharing one upstream call with every request
// for the same flight key (cache key and forwarded values) — except that an
// answer that is not shareable is used only by the request that fetched
// it: a waiter handed one fetches its own. It gives up when timeout fires
// or done closes.
func (c *Composer) coalesced(fr *fragRuntime, ps *plannedSlot, timeout *lazyTimer, done <-chan struct{}) (*upstream.Answer, error) {
	f := fr.f
	if c.uncached(f) {
		// Fetched per page, on this goroutine: the call is bounded by the
		// fragment's timeout.
		return c.fetchOnce(fr, ps)
	}
	var ran atomic.Bool
	fetch := func() (any, error) {
		ran.Store(true)
		return c.fetchOnce(fr, ps)
	}
	ch := c.flight.DoChan(ps.flight, fetch)
	for {
		select {
		case res := <-ch:
			switch {
			case res.Err != nil:
				return nil, res.Err
			case !res.Val.(*upstream.Answer).Shareable && !ran.Load():
				ch = c.fetchAsync(fetch)
			default:
				return res.Val.(*upstream.Answer), nil
			}
		case <-timeout.C():
			return nil, fmt.Errorf("%w: %s after %s", upstream.ErrFragmentTimeout, f.Name, f.Timeout)
		case <-done:
			return nil, fmt.Errorf("%w: %s: page ended", upstream.ErrFragmentTimeout, f.Name)
		}
	}
}

// uncached reports whether f is configured not to be cached, so that each
// page fetches it itself.
func (c *Composer) uncached(f *config.Fragment) bool {
	return f.TTLSet && c.freshness(f, nil).ttl <= 0
}

// fetchOnce is one fetch of a slot: the answer stored a moment ago when it
// is still fresh, else an upstream call. A panic in it is an error.
func (c *Composer) fetchOnce(fr *fragRuntime, ps *plannedSlot) (a *upstream.Answer, err error) {
	defer c.recoverPanic("fetch", fr.f, func(e error) { a, err = nil, e })
	if e := c.recentEntry(ps.key); e != nil && c.freshness(fr.f, e).state(e, c.clock.Now()) == stateFresh {
		return &upstream.Answer{Body: e.Body, Version: e.Version, Shareable: true, Meta: e.Meta}, nil
	}
	return c.fetchAndStore(fr, ps)
}

// fetchAsync runs fetch on its own goroutine; the call is bounded by the
// fragment's timeout, so a caller that stops waiting leaks nothing for long.
func (c *Composer) fetchAsync(fetch func() (any, error)) <-chan singleflight.Result {
	res := make(chan singleflight.Result, 1)
	c.goSafe("fetch", func() {
		v, err := fetch()
		res <- singleflight.Result{Val: v, Err: err}
	}, nil)
	return res
}

// fetchAndStore makes one upstream call and, when the answer may be shared,
// stores it without holding the caller up.
func (c *Composer) fetchAndStore(fr *fragRuntime, ps *plannedSlot) (*upstream.Answer, error) {
	return c.receiveAndStore(fr, ps, c.send(fr, ps))
}

// sentFetch is an upstream call on its way: when it was sent, and its
// answer to come.
type sentFetch struct {
	start time.Time
	call  receiver
}

// send sends a slot's upstream call, bounded by the fragment's timeout.
func (c *Composer) send(fr *fragRuntime, ps *plannedSlot) sentFetch {
	start := c.clock.Now()
	fr.m.fetches.Inc()
	return sentFetch{start: start, call: c.fetcher.send(fr, &ps.req, start.Add(fr.f.Timeout))}
}

// receiveAndStore receives a sent call's answer, counts and records it,
// and, when it may be shared, stores it without holding the caller up.
func (c *Composer) receiveAndStore(fr *fragRuntime, ps *plannedSlot, sf sentFetch) (*upstream.Answer, error) {
	f := fr.f
	start := sf.start
	a, err := sf.call.Receive()
	d := c.clock.Now().Sub(start)
	fr.m.fetchSeconds.Update(d.Seconds())
	if err != nil {
		fr.m.fetchError(upstream.Reason(err))
		if upstream.Reason(err) != "circuit_open" {
			fr.m.record(d, "", err)
			c.log.Warn("fragment fetch failed", "fragment", f.Name, "err", err, "dur", d)
		}
		return nil, err
	}
	fr.m.record(d, a.Version, nil)
	c.learn(fr, a)
	if !a.Shareable {
		return a, nil
	}
	e := Entry{Body: a.Body, Version: a.Version, Stored: start, MaxAge: a.CC.TTL(), SWR: a.CC.SWR, SIE: a.CC.SIE, Meta: a.Meta}
	if keep := c.freshness(f, &e).keep(); keep > 0 && fr.mayStore(ps.key, start, keep) {
		stored := e // only an entry that is kept leaves this frame
		c.store(ps.key, &stored, keep)
	}
	return a, nil
}

// store writes e to the cache in the background; until the write is
// visible (and a little past it) the entry is served from recent.
func (c *Composer) store(key string, e *Entry, keep time.Duration) {
	if _, loaded := c.recent.Swap(key, e); !loaded {
		c.nRecent.Add(1)
	}
	stored := e
	forget := func() {
		if c.recent.CompareAndDelete(key, e) || c.recent.CompareAndDelete(key, stored) {
			c.nRecent.Add(-1)
		}
	}
	ok := c.background("cache write", func() {
		defer time.AfterFunc(recentLinger, forget)
		stored = withBlock(e) // compressed once here, then on every page
		c.recent.CompareAndSwap(key, e, stored)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := c.cache.Set(ctx, key, stored, keep); err != nil {
			c.m.redis.Inc()
			c.log.Debug("cache write failed", "key", key, "err", err)
		}
	})
	if !ok {
		forget()
	}
}

const recentLinger = 2 * time.Second

// refresher keeps at most one background refresh per key pending in this
// composer: a stale hit while one is pending (or shortly after another
// composer held the key's lock) starts nothing.
type refresher struct {
	mu sync.Mutex
	// pending maps a key to when it may be refreshed again; the zero time
	// means a refresh is running.
	pending map[string]time.Time
}

// scheduleRefresh refetches a stale key in the background, once per
// composer and, through a short lock in the cache attempted once per
// refresh, once across composers.
func (c *Composer) scheduleRefresh(fr *fragRuntime, ps *plannedSlot) {
	now := c.clock.Now()
	c.refresh.mu.Lock()
	if until, ok := c.refresh.pending[ps.key]; ok && (until.IsZero() || now.Before(until)) {
		c.refresh.mu.Unlock()
		return
	}
	c.refresh.pending[ps.key] = time.Time{}
	if len(c.refresh.pending) > maxPendingRefreshes {
		c.refresh.sweep(now)
	}
	c.refresh.mu.Unlock()
	lockFor := 2 * fr.f.Timeout
	started := c.background("refresh", func() {
		ok := c.tryRefreshLock(ps.key, lockFor)
		if ok {
			res := <-c.flight.DoChan(ps.flight, func() (v any, err error) {
				defer c.recoverPanic("refresh", fr.f, func(e error) { v, err = nil, e })
				return c.fetchAndStore(fr, ps)
			})
			_ = res
		}
		// Whether this composer refreshed or another holds the lock, the
		// key is left alone for the lock's time: a new copy is on its way.
		c.refresh.mu.Lock()
		c.refresh.pending[ps.key] = c.clock.Now().Add(lockFor)
		c.refresh.mu.Unlock()
	})
	if !started {
		c.refresh.mu.Lock()
		delete(c.refresh.pending, ps.key)
		c.refresh.mu.Unlock()
	}
}

// maxPendingRefreshes bounds the refresher's memory: past it, keys whose
// wait is over are forgotten.
const maxPendingRefreshes = 10000

func (rf *refresher) sweep(now time.Time) {
	for k, until := range rf.pending {
		if !until.IsZero() && !now.Before(until) {
			delete(rf.pending, k)
		}
	}
}

// tryRefreshLock takes the cross-composer refresh lock for key, once.
func (c *Composer) tryRefreshLock(key string, ttl time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ok, err := c.cache.TryLock(ctx, "refresh:"+key, ttl)
	// A cache that cannot lock could not store the refreshed copy either.
	return err == nil && ok
}
