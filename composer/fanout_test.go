package composer

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
)

// fakeClock is a clock whose time moves only when the test says.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch, func() bool { return true }
}

// Advance moves the time on by d and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// waiting reports how many timers are set.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// fakeFetcher answers with fn, counting calls.
type fakeFetcher struct {
	calls atomic.Int64
	fn    func(ctx context.Context, req *upstream.Request) (*upstream.Answer, error)
}

// send counts the call; fn answers it when it is received.
func (f *fakeFetcher) send(_ *fragRuntime, req *upstream.Request, _ time.Time) receiver {
	f.calls.Add(1)
	return fakeCall{f, req}
}

type fakeCall struct {
	f   *fakeFetcher
	req *upstream.Request
}

// Wait cannot tell: fn may block on the fake clock, so the call is
// received on a goroutine of its own.
func (fakeCall) Wait(time.Duration) bool { return false }

func (c fakeCall) Receive() (*upstream.Answer, error) { return c.f.fn(context.Background(), c.req) }

// fakeCache is an empty cache that counts lock attempts.
type fakeCache struct {
	locks   atomic.Int64
	lockErr error
	grant   bool
}

func (c *fakeCache) GetMulti(_ context.Context, keys []string) ([]*Entry, error) {
	return make([]*Entry, len(keys)), nil
}
func (c *fakeCache) Set(context.Context, string, *Entry, time.Duration) error { return nil }
func (c *fakeCache) TryLock(context.Context, string, time.Duration) (bool, error) {
	c.locks.Add(1)
	return c.grant, c.lockErr
}

const unitConfig = `
fragments:
  a: {url: "http://127.0.0.1:1/", timeout: 200ms, fallback: "<p>A fallback</p>", ttl: 60s}
  b: {url: "http://127.0.0.1:1/", timeout: 200ms, ttl: 60s}
pages:
  - {path: /, title: T, layout: page.html}
`

func unitSite(t *testing.T) *config.Site {
	t.Helper()
	return siteFrom(t, unitConfig, `<main><!--@slot:a--><!--@slot:b--></main>`)
}

// unitComposer is a composer on a fake clock, fetcher and cache.
func unitComposer(t *testing.T, ff *fakeFetcher, fc *fakeCache) (*Composer, *fakeClock) {
	t.Helper()
	c, err := New(Options{Site: unitSite(t), Cache: fc})
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	c.clock, c.fetcher = clk, ff
	t.Cleanup(func() { _ = c.Close() })
	return c, clk
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fr := freshness{ttl: 10 * time.Second, swr: 5 * time.Second, sie: time.Minute}
	at := func(age time.Duration) *Entry { return &Entry{Stored: now.Add(-age), Version: "1.0.0"} }
	f := &config.Fragment{Name: "a"}
	for _, tt := range []struct {
		name string
		e    *Entry
		fr   freshness
		want entryState
	}{
		{"missing", nil, fr, stateMissing},
		{"fresh", at(time.Second), fr, stateFresh},
		{"just stale", at(10 * time.Second), fr, stateStale},
		{"past swr, within sie", at(20 * time.Second), fr, stateUsable},
		{"past sie", at(2 * time.Minute), fr, stateExpired},
		{"no windows", at(11 * time.Second), freshness{ttl: 10 * time.Second}, stateExpired},
		{"ttl 0", at(0), freshness{}, stateExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(f, tt.fr, tt.e, now); got != tt.want {
				t.Fatalf("decide = %d, want %d", got, tt.want)
			}
		})
	}
	v2 := siteFrom(t, "fragments:\n  a: {url: \"http://127.0.0.1:1/\", version: \"^2\"}\npages:\n  - {path: /, layout: page.html}\n", `<!--@slot:a-->`).Fragments["a"]
	if got := decide(v2, fr, at(time.Second), now); got != stateMissing {
		t.Fatalf("an entry of a version outside the range: %d, want missing", got)
	}
}

func TestWholePage(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name    string
		mode    config.StreamMode
		typical []time.Duration
		want    bool
	}{
		{"nothing pending", config.StreamAuto, nil, true},
		{"all fast", config.StreamAuto, []time.Duration{ms, 2 * ms}, true},
		{"one slow", config.StreamAuto, []time.Duration{ms, 50 * ms}, false},
		{"at the threshold", config.StreamAuto, []time.Duration{10 * ms}, false},
		{"never fetched counts as slow", config.StreamAuto, []time.Duration{time.Hour}, false},
		{"always", config.StreamAlways, nil, false},
		{"never", config.StreamNever, []time.Duration{time.Hour}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := wholePage(tt.mode, tt.typical, 10*ms); got != tt.want {
				t.Fatalf("wholePage = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanKeysAndRequests(t *testing.T) {
	site := unitSite(t)
	page := site.Pages["/"]
	req := request{
		ids:    requestIDs{requestID: "rid", traceID: "0123456789abcdef0123456789abcdef", spanID: "00000000000000aa", flags: "01"},
		inputs: map[string]string{"city": "oslo"},
	}
	pl := planPage(site, preparePage(page), req, &Tuning{Generations: map[string]uint64{"b": 3}})
	got := []string{pl.slots[0].key, pl.slots[1].key, pl.slots[0].req.URL, pl.slots[0].flight}
	want := []string{"tessera:f:a:0:%2A:", "tessera:f:b:3:%2A:", "http://127.0.0.1:1/", "tessera:f:a:0:%2A:"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("keys (-want +got)\n%s", d)
	}
	if pl.deadline != 1200*time.Millisecond {
		t.Fatalf("deadline %s, want the slowest timeout and a second", pl.deadline)
	}
	if pl.slots[0].parentSpan != "00000000000000aa" || len(pl.slots[0].spanID) != 16 {
		t.Fatalf("spans %q under %q", pl.slots[0].spanID, pl.slots[0].parentSpan)
	}
	if tp, want := pl.slots[0].req.Headers[1], [2]string{"traceparent", "00-0123456789abcdef0123456789abcdef-" + pl.slots[0].spanID + "-01"}; tp != want {
		t.Fatalf("header %q, want %q: the slot's own span", tp, want)
	}
	if pl.slots[0].spanID == pl.slots[1].spanID {
		t.Fatalf("two slots share span %q", pl.slots[0].spanID)
	}
}

// resolveOne runs one slot of the unit page through resolve.
func resolveOne(c *Composer, name string, stale *Entry) *slotRun {
	rt := c.rt.Load()
	pl := planPage(rt.site, rt.pages[rt.site.Pages["/"]], request{}, c.tuning.Load())
	r := c.startPage(rt, pl)
	r.cancel()
	// No page deadline: only the slot's own timer may end its wait.
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	for _, sr := range r.top {
		if sr.ps.slot.Fragment.Name == name {
			sr.stale = stale
			sr.done = make(chan struct{})
			r.runSlot(sr)
			return sr
		}
	}
	panic("no slot " + name)
}

func TestResolveOutcomes(t *testing.T) {
	boom := errors.New("boom")
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	stale := &Entry{Body: []byte("<p>A stale</p>")}
	for _, tt := range []struct {
		name     string
		slot     string
		stale    *Entry
		fetch    func(context.Context, *upstream.Request) (*upstream.Answer, error)
		body     string
		result   cacheResult
		served   servedAs
		errIs    error
		advances bool // the fetch hangs until the clock passes the timeout
	}{
		{name: "answer", slot: "a", fetch: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
			return &upstream.Answer{Body: []byte("<p>A</p>"), Shareable: true}, nil
		}, body: "<p>A</p>", result: resultMiss},
		{name: "error, stale copy", slot: "a", stale: stale, fetch: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
			return nil, boom
		}, body: "<p>A stale</p>", result: resultStale, served: servedStale, errIs: boom},
		{name: "error, fallback", slot: "a", fetch: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
			return nil, boom
		}, body: "<p>A fallback</p>", result: resultError, served: servedFallback, errIs: boom},
		{name: "error, placeholder", slot: "b", fetch: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
			return nil, boom
		}, body: string(emptySlot("b")), result: resultError, served: servedEmpty, errIs: boom},
		{name: "panic degrades the slot", slot: "a", fetch: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
			panic("fragment library bug")
		}, body: "<p>A fallback</p>", result: resultError, served: servedFallback, errIs: upstream.ErrPanic},
		{name: "hang cut at the fragment's timeout", slot: "a", advances: true, fetch: func(ctx context.Context, _ *upstream.Request) (*upstream.Answer, error) {
			<-hang // answers only when the test ends: only the slot's own timer ends the wait
			return nil, boom
		}, body: "<p>A fallback</p>", result: resultError, served: servedFallback, errIs: upstream.ErrFragmentTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ff := &fakeFetcher{fn: tt.fetch}
			c, clk := unitComposer(t, ff, &fakeCache{})
			done := make(chan *slotRun, 1)
			go func() { done <- resolveOne(c, tt.slot, tt.stale) }()
			var sr *slotRun
			if tt.advances {
				for clk.waiting() == 0 {
					time.Sleep(time.Millisecond) // until the slot has set its timer
				}
				clk.Advance(200 * time.Millisecond)
			}
			select {
			case sr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("slot never resolved")
			}
			if string(sr.res.body) != tt.body || sr.res.result != tt.result || sr.res.served != tt.served {
				t.Fatalf("got %q %s %q, want %q %s %q", sr.res.body, sr.res.result, sr.res.served, tt.body, tt.result, tt.served)
			}
			if tt.errIs != nil && !errors.Is(sr.res.err, tt.errIs) {
				t.Fatalf("err %v, want %v", sr.res.err, tt.errIs)
			}
		})
	}
}

// TestWaitForAFetchPlaceEndsAtTheTimeout: a slot that finds every one of
// the page's fetch places taken waits for one no longer than its
// fragment's timeout, and then fetches nothing.
func TestWaitForAFetchPlaceEndsAtTheTimeout(t *testing.T) {
	ff := &fakeFetcher{fn: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
		return &upstream.Answer{Body: []byte("<p>A</p>"), Shareable: true}, nil
	}}
	c, clk := unitComposer(t, ff, &fakeCache{})
	rt := c.rt.Load()
	r := c.startPage(rt, planPage(rt.site, rt.pages[rt.site.Pages["/"]], request{}, c.tuning.Load()))
	r.cancel()
	r.ctx, r.cancel = context.WithCancel(context.Background()) // only the slot's timer may end the wait
	defer r.cancel()
	for range cap(r.sem) {
		r.sem <- struct{}{}
	}
	sr := r.top[0]
	sr.done = make(chan struct{})
	go r.runSlot(sr)
	for clk.waiting() == 0 {
		time.Sleep(time.Millisecond) // until the slot has set its timer
	}
	clk.Advance(199 * time.Millisecond)
	select {
	case <-sr.done:
		t.Fatal("the slot gave up before its timeout")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	select {
	case <-sr.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot waited past its timeout")
	}
	if !errors.Is(sr.res.err, upstream.ErrFragmentTimeout) || !strings.Contains(sr.res.err.Error(), "waiting to fetch") || ff.calls.Load() != 0 {
		t.Fatalf("err %v after %d fetches, want a timeout waiting to fetch and none", sr.res.err, ff.calls.Load())
	}
	if string(sr.res.body) != "<p>A fallback</p>" {
		t.Fatalf("body %q, want the fallback", sr.res.body)
	}
}

// TestOneRefreshPerKey: a thousand stale hits on one key start one
// refresh, with one lock attempt, while it is pending and for the lock's
// time after it.
func TestOneRefreshPerKey(t *testing.T) {
	release := make(chan struct{})
	ff := &fakeFetcher{fn: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
		<-release
		return &upstream.Answer{Body: []byte("<p>A</p>"), Shareable: true}, nil
	}}
	fc := &fakeCache{grant: true}
	c, clk := unitComposer(t, ff, fc)
	rt := c.rt.Load()
	pl := planPage(rt.site, rt.pages[rt.site.Pages["/"]], request{}, c.tuning.Load())
	for range 1000 {
		c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
	}
	close(release)
	waitFor(t, func() bool { return ff.calls.Load() == 1 && c.refreshIdle("tessera:f:a:0:%2A:") })
	for range 1000 {
		c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
	}
	if n, l := ff.calls.Load(), fc.locks.Load(); n != 1 || l != 1 {
		t.Fatalf("%d fetches and %d lock attempts for 2,000 stale hits, want 1 and 1", n, l)
	}
	clk.Advance(time.Second) // past the lock's 2 × 200 ms
	c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
	waitFor(t, func() bool { return fc.locks.Load() == 2 })
}

// TestRefreshLockHeldElsewhere: when another composer holds the lock, the
// key is not tried again until the lock would have expired.
func TestRefreshLockHeldElsewhere(t *testing.T) {
	ff := &fakeFetcher{fn: func(context.Context, *upstream.Request) (*upstream.Answer, error) { return nil, errors.New("unused") }}
	fc := &fakeCache{grant: false}
	c, _ := unitComposer(t, ff, fc)
	rt := c.rt.Load()
	pl := planPage(rt.site, rt.pages[rt.site.Pages["/"]], request{}, c.tuning.Load())
	c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
	waitFor(t, func() bool { return c.refreshIdle("tessera:f:a:0:%2A:") })
	for range 500 {
		c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
	}
	if n, l := ff.calls.Load(), fc.locks.Load(); n != 0 || l != 1 {
		t.Fatalf("%d fetches and %d lock attempts, want 0 and 1", n, l)
	}
}

// refreshIdle reports that no refresh of key is running.
func (c *Composer) refreshIdle(key string) bool {
	c.refresh.mu.Lock()
	defer c.refresh.mu.Unlock()
	until, ok := c.refresh.pending[key]
	return ok && !until.IsZero()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// panicCache panics where the test says.
type panicCache struct {
	fakeCache
	set, lock bool
}

func (c *panicCache) Set(context.Context, string, *Entry, time.Duration) error {
	if c.set {
		panic("cache write bug")
	}
	return nil
}

func (c *panicCache) TryLock(context.Context, string, time.Duration) (bool, error) {
	if c.lock {
		panic("cache lock bug")
	}
	return true, nil
}

// panicSender panics sending fragment a's request.
type panicSender struct{ *fakeFetcher }

func (p panicSender) send(fr *fragRuntime, req *upstream.Request, deadline time.Time) receiver {
	if fr.f.Name == "a" {
		panic("request bug")
	}
	return p.fakeFetcher.send(fr, req, deadline)
}

type panicObserver struct{}

func (panicObserver) ObservePage(PageEvent) { panic("observer bug") }
func (panicObserver) ObserveSlot(SlotEvent) {}

// TestPanicsDegradeNotCrash: a panic in a background cache write, a
// refresh, or the streamed page's writer is recovered and counted; the
// process lives and the page is served.
func TestPanicsDegradeNotCrash(t *testing.T) {
	ok := func(context.Context, *upstream.Request) (*upstream.Answer, error) {
		return &upstream.Answer{Body: []byte("<p>A</p>"), Shareable: true}, nil
	}
	t.Run("cache write", func(t *testing.T) {
		c, _ := unitComposer(t, &fakeFetcher{fn: ok}, nil)
		c.cache = &panicCache{set: true}
		sr := resolveOne(c, "a", nil)
		if string(sr.res.body) != "<p>A</p>" {
			t.Fatalf("body %q", sr.res.body)
		}
		waitFor(t, func() bool { return c.m.panics.Get() == 1 })
	})
	t.Run("refresh", func(t *testing.T) {
		c, _ := unitComposer(t, &fakeFetcher{fn: ok}, nil)
		c.cache = &panicCache{lock: true}
		rt := c.rt.Load()
		pl := planPage(rt.site, rt.pages[rt.site.Pages["/"]], request{}, c.tuning.Load())
		c.scheduleRefresh(rt.fragment("a"), &pl.slots[0])
		waitFor(t, func() bool { return c.m.panics.Get() == 1 })
	})
	t.Run("sending a request ahead", func(t *testing.T) {
		site := siteFrom(t, strings.ReplaceAll(unitConfig, "ttl: 60s", "ttl: 0s"), `<main><!--@slot:a--><!--@slot:b--></main>`)
		c, err := New(Options{Site: site, Cache: &fakeCache{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		c.fetcher = panicSender{&fakeFetcher{fn: ok}}
		body := serveOnce(t, c, "/")
		if !strings.Contains(body, "<p>A fallback</p>") || !strings.Contains(body, "<p>A</p>") {
			t.Fatalf("page %q, want a's fallback and b's answer", body)
		}
		if c.m.panics.Get() != 1 {
			t.Fatalf("%d panics counted, want 1", c.m.panics.Get())
		}
	})
	t.Run("stream writer", func(t *testing.T) {
		c, _ := unitComposer(t, &fakeFetcher{fn: ok}, &fakeCache{})
		c.observer = panicObserver{}
		body := serveOnce(t, c, "/")
		if !strings.Contains(body, "<p>A</p>") {
			t.Fatalf("page %q", body)
		}
		waitFor(t, func() bool { return c.m.panics.Get() == 1 })
	})
}

// serveOnce serves one GET of path over an in-memory listener.
func serveOnce(t *testing.T, c *Composer, path string) string {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: pageHandler(c)}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	conn, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return string(b)
}

// TestReloadReleasesFragmentResources: a reload that drops a fragment
// releases its client, breaker and series; one that keeps a fragment keeps
// its breaker and counts.
func TestReloadReleasesFragmentResources(t *testing.T) {
	c, _ := unitComposer(t, &fakeFetcher{fn: func(context.Context, *upstream.Request) (*upstream.Answer, error) {
		return &upstream.Answer{Body: []byte("<p>A</p>"), Shareable: true}, nil
	}}, &fakeCache{})
	c.releaseAfter = 0
	resolveOne(c, "a", nil)
	brA := c.rt.Load().fragment("a").up
	series := func() string {
		var b strings.Builder
		c.m.set.WritePrometheus(&b)
		return b.String()
	}
	if !strings.Contains(series(), `fragment="b"`) {
		t.Fatal("no series for b before the reload")
	}
	next := siteFrom(t, "fragments:\n  a: {url: \"http://127.0.0.1:1/\", timeout: 200ms, fallback: \"<p>A fallback</p>\", ttl: 60s}\npages:\n  - {path: /, title: T, layout: page.html}\n", `<main><!--@slot:a--></main>`)
	c.SetSite(next)
	waitFor(t, func() bool { return !strings.Contains(series(), `fragment="b"`) })
	if c.BreakerState("b") != "" {
		t.Fatal("b's breaker outlived its config")
	}
	if c.rt.Load().fragment("a").up != brA {
		t.Fatal("a's breaker was replaced although its settings did not change")
	}
	if st := c.Stats("a"); st.Misses != 1 {
		t.Fatalf("a's counts after the reload: %+v", st)
	}
}

type recordingObserver struct {
	mu    sync.Mutex
	slots []SlotEvent
	page  PageEvent
}

func (o *recordingObserver) ObservePage(e PageEvent) { o.mu.Lock(); o.page = e; o.mu.Unlock() }
func (o *recordingObserver) ObserveSlot(e SlotEvent) {
	o.mu.Lock()
	o.slots = append(o.slots, e)
	o.mu.Unlock()
}

// TestNestedSlotsShareTheFanOutBoundAndAreObserved: slots nested in an
// answer count against the page's fan-out bound, and each is reported
// with the span of the slot it is nested in as parent.
func TestNestedSlotsShareTheFanOutBoundAndAreObserved(t *testing.T) {
	site := siteFrom(t, `
fragments:
  a: {url: "http://127.0.0.1:1/a", nest: [b], timeout: 5s}
  b: {url: "http://127.0.0.1:1/b", params: {n: []}, timeout: 5s}
pages:
  - {path: /, title: T, layout: page.html, stream: never}
`, `<main><!--@slot:a--></main>`)
	var inFlight, most atomic.Int64
	ff := &fakeFetcher{fn: func(_ context.Context, req *upstream.Request) (*upstream.Answer, error) {
		if strings.HasSuffix(req.URL, "/a") {
			return &upstream.Answer{Body: []byte(`<a><!--@slot:b n=1--><!--@slot:b n=2--><!--@slot:b n=3--><!--@slot:b n=4--></a>`), Shareable: true}, nil
		}
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // hold the fetch so others overlap if allowed
		inFlight.Add(-1)
		return &upstream.Answer{Body: []byte("<b>" + req.URL[len(req.URL)-1:] + "</b>"), Shareable: true}, nil
	}}
	obs := &recordingObserver{}
	c, err := New(Options{Site: site, Cache: &fakeCache{}, FanOut: 2, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	c.fetcher = ff
	t.Cleanup(func() { _ = c.Close() })
	body := serveOnce(t, c, "/")
	if !strings.Contains(body, "<a><b>1</b><b>2</b><b>3</b><b>4</b></a>") {
		t.Fatalf("page %s", body)
	}
	if m := most.Load(); m > 2 {
		t.Fatalf("%d nested fetches at once, want at most the page's bound of 2", m)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.slots) != 5 {
		t.Fatalf("%d slot events, want 5 (a and the four nested in it)", len(obs.slots))
	}
	top := obs.slots[0]
	if top.Slot != "a" || top.ParentID != obs.page.SpanID {
		t.Fatalf("top slot event %+v under page span %s", top, obs.page.SpanID)
	}
	for _, ev := range obs.slots[1:] {
		if ev.Slot != "a.b" || ev.ParentID != top.SpanID || ev.SpanID == "" || ev.Result != "miss" {
			t.Fatalf("nested slot event %+v, want a.b under span %s", ev, top.SpanID)
		}
	}
}

// TestSessionCookieNeverForwarded: even a Site that names the session
// cookie or the Cookie header (built without the config's checks) sends
// neither to a fragment, and what two fragments may both be sent is read
// once.
func TestSessionCookieNeverForwarded(t *testing.T) {
	site := unitSite(t)
	site.Fragments["a"].ForwardCookies = []string{config.SessionCookie, "consent"}
	site.Fragments["a"].ForwardHeaders = []string{"Cookie", "Accept-Language"}
	site.Fragments["b"].ForwardHeaders = []string{"Accept-Language"}
	fl := forwardListOf(site)
	if !slices.Equal(fl.headers, []string{"Accept-Language"}) || !slices.Equal(fl.cookies, []string{"consent"}) {
		t.Fatalf("listed headers %q and cookies %q, want Accept-Language and consent, once each", fl.headers, fl.cookies)
	}
	var rc fasthttp.RequestCtx
	rc.Request.Header.Set("Cookie", config.SessionCookie+"=SECRET; consent=yes")
	rc.Request.Header.Set("Accept-Language", "fr")
	fw := readForwardable(&rc, fl)
	want := forwardable{headers: map[string]string{"Accept-Language": "fr"}, cookies: map[string]string{"consent": "yes"}}
	if diff := cmp.Diff(want, fw, cmp.AllowUnexported(forwardable{})); diff != "" {
		t.Fatalf("forwarded (-want +got):\n%s", diff)
	}
}
