package composer_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp compresses responses on a pool of stackless workers
		// that live for the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*fsHandler).handleCachedFiles"),
		goleak.IgnoreAnyFunction("github.com/maypok86/otter/v2.(*cache[...]).periodicCleanUp"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		// fasthttp's own housekeeping goroutines sleep out their period after
		// a server or client is gone.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

const testLayout = `<!doctype html><html><head><title>t</title></head><body>
<header>HEAD</header>
<main><!--@slot:a--><!--@slot:b view=x--><!--@slot:c--></main>
<footer>FOOT</footer></body></html>`

type env struct {
	t     *testing.T
	a     *composertest.Fragment
	b     *composertest.Fragment
	c     *composertest.Fragment
	comp  *composer.Composer
	base  string
	cache *memcache.Cache
	set   *metrics.Set
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the composer's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fragYAML is extra YAML per fragment name, indented under it.
func newEnv(t *testing.T, fragYAML map[string]string, mutate ...func(string) string) *env {
	t.Helper()
	return newEnvLayout(t, testLayout, fragYAML, mutate...)
}

// newEnvLayout is newEnv with the page's layout given.
func newEnvLayout(t *testing.T, layout string, fragYAML map[string]string, mutate ...func(string) string) *env {
	t.Helper()
	e := &env{t: t}
	e.a = composertest.NewFragment(t, "a", `<section data-fragment="a">A1</section>`)
	e.b = composertest.NewFragment(t, "b", `<section data-fragment="b">B1</section>`)
	e.c = composertest.NewFragment(t, "c", `<section data-fragment="c">C1</section>`)
	var y strings.Builder
	y.WriteString("inputs:\n  city: {query: city, cookie: city, default: london}\nfragments:\n")
	for _, f := range []*composertest.Fragment{e.a, e.b, e.c} {
		fmt.Fprintf(&y, "  %s:\n    url: %s\n", f.Name, f.URL)
		extra := fragYAML[f.Name]
		if !strings.Contains(extra, "timeout:") {
			y.WriteString("    timeout: 300ms\n")
		}
		if extra != "" {
			for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
				y.WriteString("    " + line + "\n")
			}
		}
	}
	y.WriteString("pages:\n  - path: /\n    title: T\n    layout: page.html\n")
	src := y.String()
	for _, m := range mutate {
		src = m(src)
	}
	site := composertest.Site(t, src, map[string]string{"page.html": layout})
	var err error
	e.cache, err = memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	e.set = metrics.NewSet()
	e.logs = &syncBuffer{}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.comp, err = composer.New(composer.Options{Site: site, Cache: e.cache, Metrics: e.set, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h := front.Handler(front.Options{Composer: e.comp, Metrics: e.set})
	srv := front.NewServer(h, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		<-done
		_ = e.comp.Close()
		_ = e.cache.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return e
}

func (e *env) get(path string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	return e.getThen(path, nil, hdr...)
}

// getThen is get, calling headersIn (when set) once the response's
// headers are in, before its body is read.
func (e *env) getThen(path string, headersIn func(), hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if headersIn != nil {
		headersIn()
	}
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp, string(b)
}

// waitCached polls until the cache holds n entries (cache writes are
// asynchronous so that they never delay a page).
func (e *env) waitCached(n int) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for e.cache.Len() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("cache holds %d entries, want %d", e.cache.Len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// documentOrder makes the test page deliver its slots in document order.
func documentOrder(src string) string {
	return strings.Replace(src, "layout: page.html\n", "layout: page.html\n    order: document\n", 1)
}

func TestPageHasEveryFragmentInOrder(t *testing.T) {
	e := newEnv(t, nil, documentOrder)
	resp, body := e.get("/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := `<main><section data-fragment="a">A1</section><section data-fragment="b">B1</section><section data-fragment="c">C1</section></main>`
	if !strings.Contains(body, want) {
		t.Fatalf("page lacks stitched fragments in order:\n%s", body)
	}
	if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, "<footer>FOOT</footer>") {
		t.Fatalf("layout not preserved:\n%s", body)
	}
	if q := e.b.LastQuery(); q != "view=x" {
		t.Fatalf("slot params: fragment b got query %q, want view=x", q)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
}

func TestSecondRequestServedFromCache(t *testing.T) {
	e := newEnv(t, nil)
	e.get("/")
	e.waitCached(3)
	resp, body := e.get("/")
	for _, f := range []*composertest.Fragment{e.a, e.b, e.c} {
		if n := f.Calls(); n != 1 {
			t.Errorf("fragment %s called %d times, want 1", f.Name, n)
		}
	}
	if !strings.Contains(body, "A1") || !strings.Contains(body, "C1") {
		t.Fatalf("cached page incomplete: %s", body)
	}
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "tessera-a; hit") {
		t.Fatalf("Cache-Status %q does not report a hit", cs)
	}
	if st := resp.Header.Get("Server-Timing"); !strings.Contains(st, `a;dur=`) || !strings.Contains(st, `desc="hit"`) {
		t.Fatalf("Server-Timing %q", st)
	}
}

func TestFailedFragmentGetsFallback(t *testing.T) {
	e := newEnv(t, map[string]string{"b": `fallback: "<p>B is resting</p>"`})
	e.b.SetStatus(500)
	e.c.SetContentType("application/json")
	resp, body := e.get("/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !strings.Contains(body, "<p>B is resting</p>") {
		t.Fatalf("no fallback for b: %s", body)
	}
	if strings.Contains(body, "C1") || !strings.Contains(body, `data-fragment-empty="c"`) {
		t.Fatalf("non-HTML fragment c should become an empty placeholder: %s", body)
	}
	if !strings.Contains(body, "A1") {
		t.Fatalf("healthy fragment missing: %s", body)
	}
}

// TestHangingFragmentCutAtTimeout: the page's deadline is past 10 s (the
// slowest timeout of its slots), so only c's own 150 ms timeout can end the
// page within 5 s.
func TestHangingFragmentCutAtTimeout(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "timeout: 10s", "c": "timeout: 150ms\nfallback: '<p>C late</p>'"})
	e.c.Hold()
	start := time.Now()
	resp, body := e.get("/")
	took := time.Since(start)
	e.c.Release()
	if resp.StatusCode != 200 || !strings.Contains(body, "<p>C late</p>") || !strings.Contains(body, "A1") {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if took > 5*time.Second {
		t.Fatalf("page took %s; the 150ms timeout did not cut the fragment", took)
	}
}

// TestSlowAnswerReadAheadHoldsNoOtherBack: on a page sent whole, the
// requests of fragments fetched per page are written before any answer is
// read, and the answers that are in are read on the page's own goroutine.
// A slow one ahead of fast ones must not make them miss their timeouts nor
// count its time as theirs.
func TestSlowAnswerReadAheadHoldsNoOtherBack(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 0s\ntimeout: 5s", "b": "ttl: 0s\ntimeout: 100ms", "c": "ttl: 0s\ntimeout: 100ms"}, func(s string) string {
		return strings.Replace(s, "layout: page.html\n", "layout: page.html\n    stream: never\n", 1)
	})
	e.a.SetDelay(300 * time.Millisecond)
	for i := range 2 { // the second page knows the fragments' typical times
		resp, body := e.get("/")
		for _, want := range []string{"A1", "B1", "C1"} {
			if !strings.Contains(body, want) {
				t.Fatalf("page %d lacks %s:\n%s", i, want, body)
			}
		}
		for _, name := range []string{"b", "c"} {
			if d := timing(t, resp.Header.Get("Server-Timing"), name); d >= 100 {
				t.Fatalf("page %d: %s took %.1f ms by Server-Timing, the slow fragment's time", i, name, d)
			}
		}
	}
}

// timing is the dur of name in a Server-Timing header, in milliseconds.
func timing(t *testing.T, header, name string) float64 {
	t.Helper()
	for _, m := range strings.Split(header, ",") {
		m = strings.TrimSpace(m)
		if rest, ok := strings.CutPrefix(m, name+";"); ok {
			for _, p := range strings.Split(rest, ";") {
				if v, ok := strings.CutPrefix(p, "dur="); ok {
					d, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("Server-Timing %q: %v", header, err)
					}
					return d
				}
			}
		}
	}
	t.Fatalf("Server-Timing %q has no %s", header, name)
	return 0
}

func TestStreamsHeadBeforeSlowFragment(t *testing.T) {
	e := newEnv(t, map[string]string{"b": "timeout: 5s"}, documentOrder)
	e.b.Hold()
	resp, err := http.Get(e.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Everything up to slot b must arrive while b is still held.
	br := bufio.NewReader(resp.Body)
	var got strings.Builder
	for !strings.Contains(got.String(), "A1") {
		line, err := br.ReadString('>')
		if err != nil {
			t.Fatalf("stream ended before slot a: %v (got %q)", err, got.String())
		}
		got.WriteString(line)
	}
	if strings.Contains(got.String(), "B1") || strings.Contains(got.String(), "C1") {
		t.Fatalf("later slots written before b: %q", got.String())
	}
	e.b.Release()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	full := got.String() + string(rest)
	if i, j := strings.Index(full, "B1"), strings.Index(full, "C1"); i < 0 || j < i {
		t.Fatalf("slots out of order: %s", full)
	}
}

func TestPrimaryFailureFailsPage(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "primary: true"})
	e.a.SetStatus(503)
	resp, body := e.get("/")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if strings.Contains(body, "B1") || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("error page wrong: %s", body)
	}
	e.a.SetStatus(200)
	if resp, _ := e.get("/"); resp.StatusCode != 200 {
		t.Fatalf("status %d after recovery", resp.StatusCode)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 100ms\nswr: 1m"})
	e.get("/")
	e.waitCached(3)
	time.Sleep(150 * time.Millisecond) // a is now stale, inside its SWR window
	e.a.SetBody(`<section data-fragment="a">A2</section>`)
	resp, body := e.get("/")
	if !strings.Contains(body, "A1") {
		t.Fatalf("stale copy not served at once: %s", body)
	}
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "tessera-a; hit; detail=stale") {
		t.Fatalf("Cache-Status %q", cs)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, body = e.get("/")
		if strings.Contains(body, "A2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background refresh never landed: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.a.Calls(); n != 2 {
		t.Fatalf("fragment a called %d times, want 2 (one refresh)", n)
	}
}

func TestStaleIfError(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 50ms\nsie: 1m\nfallback: '<p>fallback</p>'"}, documentOrder)
	e.get("/")
	e.waitCached(3)
	time.Sleep(80 * time.Millisecond)
	e.a.SetStatus(500)
	_, body := e.get("/")
	if !strings.Contains(body, "A1") || strings.Contains(body, "<p>fallback</p>") {
		t.Fatalf("stale-if-error copy not served: %s", body)
	}
}

// TestConcurrentColdMissesFetchOnce: 100 concurrent cold pages make one
// upstream call per fragment. It asserts coalescing, not timing: with
// -race on two busy cores the one shared fetch has been seen to take more
// than a 300 ms timeout, which degraded every page waiting on it, so the
// fragments get a timeout no scheduling delay reaches.
func TestConcurrentColdMissesFetchOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "timeout: 10s", "b": "timeout: 10s", "c": "timeout: 10s"})
	for _, f := range []*composertest.Fragment{e.a, e.b, e.c} {
		f.SetDelay(100 * time.Millisecond)
	}
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(e.base + "/")
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !strings.Contains(string(b), "A1") || !strings.Contains(string(b), "C1") {
				errs <- fmt.Errorf("incomplete page (%v): %s", err, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, f := range []*composertest.Fragment{e.a, e.b, e.c} {
		if c := f.Calls(); c != 1 {
			t.Errorf("fragment %s fetched %d times for %d concurrent cold requests, want 1", f.Name, c, n)
		}
	}
}

func TestForwardsOnlyAllowedHeadersAndCookies(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "forward_headers: [Accept-Language]\nforward_cookies: [consent]"})
	e.get("/", "Cookie", "consent=yes; session=SECRET", "Accept-Language", "fr", "X-Private", "nope",
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h := e.a.LastHeader()
	if string(h.Cookie("consent")) != "yes" || string(h.Peek("Accept-Language")) != "fr" {
		t.Fatalf("allowed values not forwarded: %s", h.String())
	}
	if len(h.Cookie("session")) != 0 || len(h.Peek("X-Private")) != 0 {
		t.Fatalf("disallowed values reached the fragment: %s", h.String())
	}
	// Same trace, with the composer's own span as the parent.
	if got := string(h.Peek("traceparent")); !strings.HasPrefix(got, "00-0af7651916cd43dd8448eb211c80319c-") || strings.Contains(got, "b7ad6b7169203331") || !strings.HasSuffix(got, "-01") || len(got) != 55 {
		t.Fatalf("traceparent %q", got)
	}
	if len(h.Peek("X-Request-Id")) == 0 {
		t.Fatal("no request id forwarded")
	}
	hb := e.b.LastHeader()
	if len(hb.Cookie("consent")) != 0 || len(hb.Peek("Accept-Language")) != 0 {
		t.Fatalf("fragment b got a's allowances: %s", hb.String())
	}
}

func TestVaryInputsSelectKeyAndQuery(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "vary: [city]"})
	e.get("/?city=paris")
	if q := e.a.LastQuery(); q != "city=paris" {
		t.Fatalf("query %q", q)
	}
	e.get("/", "Cookie", "city=oslo")
	if q := e.a.LastQuery(); q != "city=oslo" {
		t.Fatalf("query %q", q)
	}
	e.get("/?city=<script>")
	if q := e.a.LastQuery(); q != "city=london" {
		t.Fatalf("hostile input not replaced by default: %q", q)
	}
	if q := e.b.LastQuery(); q != "view=x" {
		t.Fatalf("fragment b does not vary by city but got %q", q)
	}
}

func TestOversizedFragmentRejected(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "max_bytes: 1024"})
	e.a.SetBody(`<section>` + strings.Repeat("x", 4096) + `</section>`)
	_, body := e.get("/")
	if strings.Contains(body, "xxxx") || !strings.Contains(body, `data-fragment-empty="a"`) {
		t.Fatalf("oversized fragment not replaced: %d bytes", len(body))
	}
}

func TestNoStoreNotCached(t *testing.T) {
	e := newEnv(t, nil)
	e.a.SetCacheControl("private, max-age=60")
	e.get("/")
	e.waitCached(2)
	e.get("/")
	if n := e.a.Calls(); n != 2 {
		t.Fatalf("private fragment called %d times, want 2", n)
	}
}

func TestMetricsCountResults(t *testing.T) {
	e := newEnv(t, nil)
	e.get("/")
	e.waitCached(3)
	e.get("/")
	_, m := e.get("/metrics")
	for _, want := range []string{
		`tessera_fragment_fetches_total{fragment="a"} 1`,
		`tessera_cache_results_total{fragment="a",result="hit"} 1`,
		`tessera_cache_results_total{fragment="a",result="miss"} 1`,
		`tessera_page_seconds_count{page="/"} 2`,
		`tessera_fragment_fetch_seconds_bucket{fragment="a",le=`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	e := newEnv(t, nil)
	if resp, body := e.get("/nope"); resp.StatusCode != 404 || !strings.Contains(body, "<html") {
		t.Fatalf("404 page: %d %s", resp.StatusCode, body)
	}
	resp, err := http.Post(e.base+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("POST / = %d, want 405", resp.StatusCode)
	}
}

func TestCircuitBreakerSkipsFailingFragment(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "fallback: '<p>A resting</p>'\nbreaker: {failures: 3, probes: 1, cooldown: 300ms}"})
	e.a.SetStatus(500)
	for range 3 {
		if _, body := e.get("/"); !strings.Contains(body, "<p>A resting</p>") {
			t.Fatalf("no fallback: %s", body)
		}
	}
	if st := e.comp.BreakerState("a"); st != "open" {
		t.Fatalf("breaker %q after 3 failures, want open", st)
	}
	before := e.a.Calls()
	for range 5 {
		if _, body := e.get("/"); !strings.Contains(body, "<p>A resting</p>") || !strings.Contains(body, "B1") {
			t.Fatalf("open circuit page wrong: %s", body)
		}
	}
	if n := e.a.Calls() - before; n != 0 {
		t.Fatalf("fragment called %d times while its circuit was open", n)
	}
	e.a.SetStatus(200)
	time.Sleep(350 * time.Millisecond) // cool-down over: one probe goes through
	if _, body := e.get("/"); !strings.Contains(body, "A1") {
		t.Fatalf("probe after cool-down did not restore the fragment: %s", body)
	}
	if st := e.comp.BreakerState("a"); st != "closed" {
		t.Fatalf("breaker %q after a good probe, want closed", st)
	}
}

func TestNestedFragments(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "nest: [b]", "b": "nest: [c]\nparams: {view: [mini, x]}", "c": "nest: [a, nosuch]"}, func(src string) string {
		return strings.Replace(src, "nest: [a, nosuch]", "nest: [a]", 1)
	})
	e.a.SetBody(`<section data-fragment="a">A[<!--@slot:b view=mini-->]</section>`)
	e.b.SetBody(`<i>B[<!--@slot:c-->]</i>`)
	e.c.SetBody(`<b>C[<!--@slot:a-->|<!--@slot:nosuch-->]</b>`)
	resp, body := e.get("/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := `A[<i>B[<b>C[<div class="frag-empty" data-fragment-empty="a" aria-hidden="true"></div>|<div class="frag-empty" data-fragment-empty="" aria-hidden="true"></div>]</b>]</i>]`
	if !strings.Contains(body, want) {
		t.Fatalf("nested composition wrong; want %s in\n%s", want, body)
	}
	// The cached copy is the fragment's own markup, resolved again on a hit.
	e.waitCached(3)
	_, again := e.get("/")
	if !strings.Contains(again, want) {
		t.Fatalf("nested composition from cache wrong:\n%s", again)
	}
}

func TestStatsReportVersionsLatencyAndErrors(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 0s"})
	for range 3 {
		e.get("/")
	}
	e.a.SetStatus(500)
	e.get("/")
	st := e.comp.Stats("a")
	if st.Versions["1.0.0"] != 3 {
		t.Errorf("versions %v, want 3 answers of 1.0.0", st.Versions)
	}
	if st.P50 <= 0 || st.P99 < st.P50 {
		t.Errorf("p50 %s p99 %s", st.P50, st.P99)
	}
	if st.FetchErrors != 1 || !strings.Contains(st.LastError, "500") || st.LastErrorAt.IsZero() {
		t.Errorf("errors %d, last %q at %s", st.FetchErrors, st.LastError, st.LastErrorAt)
	}
	if st.Breaker != "closed" {
		t.Errorf("breaker %q", st.Breaker)
	}
}

func TestVersionOutsideRangeIsNotUsed(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "version: ^1.2\nfallback: '<p>A old</p>'"})
	e.a.SetVersion("2.0.0")
	if _, body := e.get("/"); strings.Contains(body, "A1") || !strings.Contains(body, "<p>A old</p>") {
		t.Fatalf("answer of version 2.0.0 used despite ^1.2: %s", body)
	}
	_, m := e.get("/metrics")
	if !strings.Contains(m, `tessera_fragment_errors_total{fragment="a",reason="version"} 1`) {
		t.Error("version rejection not counted")
	}
	e.a.SetVersion("1.4.1")
	if _, body := e.get("/"); !strings.Contains(body, "A1") {
		t.Fatalf("answer of version 1.4.1 not used: %s", body)
	}
}

func TestPathParametersAreInputs(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "vary: [story]"}, func(src string) string {
		return strings.Replace(src, "pages:\n", "pages:\n  - path: /news/{story}\n    layout: page.html\n", 1)
	})
	if resp, _ := e.get("/news/lynx-return"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if q := e.a.LastQuery(); q != "story=lynx-return" {
		t.Fatalf("fragment a got %q, want story=lynx-return", q)
	}
	for _, bad := range []string{"/news/", "/news/a/b", "/news/%3Cscript%3E", "/newsx/a"} {
		if resp, _ := e.get(bad); resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", bad, resp.StatusCode)
		}
	}
	if _, _ = e.get("/"); e.a.LastQuery() != "" {
		t.Errorf("page without {story} sent %q", e.a.LastQuery())
	}
	calls := e.a.Calls()
	resp, err := http.Post(e.base+"/news/lynx-return", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST to a pattern page: %d, Allow %q; want 405 with Allow: GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if e.a.Calls() != calls {
		t.Fatal("a POST composed the page")
	}
}

func TestClientGoingAwayEndsThePage(t *testing.T) {
	e := newEnv(t, map[string]string{"b": "timeout: 10s"})
	e.b.Hold()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: t\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := conn.Read(buf); err != nil { // the head arrived
		t.Fatal(err)
	}
	conn.Close()
	// The page ends (and is counted) long before b's 10s timeout.
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, m := e.get("/metrics")
		if strings.Contains(m, `tessera_page_seconds_count{page="/"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the page kept waiting for its fragment after the client went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHostileRequests(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "vary: [city]"})
	// An oversized header block is refused before any handler runs: an
	// error status, or the connection closed while the client still writes.
	req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
	req.Header.Set("X-Junk", strings.Repeat("j", 64<<10))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("64 KB header: status %d", resp.StatusCode)
		}
	}
	if n := e.a.Calls(); n != 0 {
		t.Errorf("an oversized request reached a fragment %d times", n)
	}
	var resp *http.Response
	// A huge or odd input falls back to the default; the page is fine.
	resp, _ = e.get("/?city=" + strings.Repeat("x", 10000))
	if resp.StatusCode != 200 || e.a.LastQuery() != "city=london" {
		t.Errorf("long city: status %d, fragment got %q", resp.StatusCode, e.a.LastQuery())
	}
	// Request ids and trace context from outside are used only when well
	// formed, and never echoed raw.
	resp, _ = e.get("/", "X-Request-Id", "<script>alert(1)</script>", "traceparent", "00-zz-yy-01")
	if id := resp.Header.Get("X-Request-Id"); strings.ContainsAny(id, "<>") || id == "" {
		t.Errorf("request id %q", id)
	}
	if tp := string(e.a.LastHeader().Peek("traceparent")); len(tp) != 55 || strings.Contains(tp, "zz") {
		t.Errorf("traceparent sent on: %q", tp)
	}
	// Paths that are not pages are 404s, whatever they hold.
	for _, p := range []string{"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/_tessera/api/fragments"} {
		if resp, body := e.get(p); resp.StatusCode != 404 || strings.Contains(body, "root:") {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
	}
}

// rawFragment serves every connection with respond and closes it.
func rawFragment(t *testing.T, respond func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				respond(c)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestGarbageAndEndlessFragments(t *testing.T) {
	garbage := rawFragment(t, func(c net.Conn) {
		_, _ = c.Write([]byte("\x00\xffNOT HTTP AT ALL\r\n\r\n<script>alert(1)</script>"))
	})
	endless := rawFragment(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nX-Injected: evil\r\n\r\n"))
		chunk := []byte("1000\r\n" + strings.Repeat("g", 0x1000) + "\r\n")
		for i := 0; i < 1<<18; i++ { // up to 1 GiB, until the composer hangs up
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	e := newEnv(t, map[string]string{"a": "max_bytes: 65536\ntimeout: 2s", "b": "timeout: 2s"}, func(src string) string {
		src = strings.Replace(src, e0URL(src, "a"), endless, 1)
		return strings.Replace(src, e0URL(src, "b"), garbage, 1)
	})
	resp, body := e.get("/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Contains(body, "ggggggggggggg") || strings.Contains(body, "alert(1)") || resp.Header.Get("X-Injected") != "" {
		t.Fatalf("a bad fragment leaked into the page or its headers")
	}
	if !strings.Contains(body, `data-fragment-empty="a"`) || !strings.Contains(body, `data-fragment-empty="b"`) || !strings.Contains(body, "C1") {
		t.Fatalf("bad fragments not replaced, or the good one missing: %s", body)
	}
}

// e0URL finds the url line of fragment name in a generated config.
func e0URL(src, name string) string {
	i := strings.Index(src, "  "+name+":\n    url: ")
	if i < 0 {
		return "\x00"
	}
	rest := src[i+len("  "+name+":\n    url: "):]
	return rest[:strings.IndexByte(rest, '\n')]
}

func TestInputAllowlist(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "vary: [city]"}, func(src string) string {
		return strings.Replace(src, "default: london}", "default: london, values: [london, oslo]}", 1)
	})
	e.get("/?city=oslo")
	if q := e.a.LastQuery(); q != "city=oslo" {
		t.Fatalf("allowed value: %q", q)
	}
	e.get("/?city=atlantis", "Cookie", "city=paris")
	if q := e.a.LastQuery(); q != "city=london" {
		t.Fatalf("values outside the list must fall back to the default: %q", q)
	}
}

// TestPersonalAnswersNeverCrossUsers sends distinct users at once to a
// fragment that builds its markup from a forwarded cookie: whatever the
// fragment's Cache-Control and the configured TTL, each user must see only
// their own value.
func TestPersonalAnswersNeverCrossUsers(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, cc string
	}{
		{"private, no ttl", "forward_cookies: [consent]", "private, max-age=60"},
		{"private, ttl set", "forward_cookies: [consent]\nttl: 60s", "private"},
		{"no-store", "forward_cookies: [consent]\nttl: 60s", "no-store"},
		{"public cache-control forgot private", "forward_cookies: [consent]", "max-age=60"},
		{"ttl set, cache-control forgot private", "forward_cookies: [consent]\nttl: 60s", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"a": tt.yaml + "\ntimeout: 2s"})
			e.a.EchoCookie("consent")
			e.a.SetCacheControl(tt.cc)
			e.a.SetDelay(150 * time.Millisecond)
			const users = 20
			var wg sync.WaitGroup
			errs := make(chan error, 2*users)
			for round := range 2 {
				for u := range users {
					wg.Add(1)
					go func() {
						defer wg.Done()
						val := fmt.Sprintf("user%d-r%d", u, round)
						req, _ := http.NewRequest(http.MethodGet, e.base+"/", nil)
						req.Header.Set("Cookie", "consent="+val)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							errs <- err
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if !strings.Contains(string(b), "<i data-echo>"+val+"</i>") {
							i := strings.Index(string(b), "<i data-echo>")
							got := "no echo"
							if i >= 0 {
								got = string(b)[i:min(len(b), i+40)]
							}
							errs <- fmt.Errorf("%s saw %s", val, got)
						}
					}()
				}
				wg.Wait()
			}
			close(errs)
			n := 0
			for err := range errs {
				if n < 3 {
					t.Error(err)
				}
				n++
			}
			if n > 0 {
				t.Fatalf("%d of %d pages showed another user's answer", n, 2*users)
			}
		})
	}
}

// TestSetCookieAnswerIsNotShared: an answer carrying Set-Cookie is one
// user's; concurrent users each get their own fetch.
func TestSetCookieAnswerIsNotShared(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 60s\ntimeout: 2s"})
	e.a.SetCookie("sid=one-user")
	e.a.SetDelay(100 * time.Millisecond)
	const users = 10
	var wg sync.WaitGroup
	for range users {
		wg.Add(1)
		go func() { defer wg.Done(); e.get("/") }()
	}
	wg.Wait()
	if c := e.a.Calls(); c != users {
		t.Fatalf("fragment answering Set-Cookie fetched %d times for %d concurrent pages, want one each", c, users)
	}
}

// metric reads one series of the env's metric set.
func (e *env) metric(series string) string {
	var b bytes.Buffer
	e.set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestNestedExpansionIsBounded: a fragment placing 1,000 markers of a
// fragment that places 1,000 markers of a leaf gives a page within the
// default limits, logged once and counted.
func TestNestedExpansionIsBounded(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "nest: [b]", "b": "nest: [c]", "c": "ttl: 60s"})
	e.a.SetBody(`<section data-fragment="a">` + strings.Repeat(`<!--@slot:b-->`, 1000) + `</section>`)
	e.b.SetBody(`<i>` + strings.Repeat(`<!--@slot:c-->`, 1000) + `</i>`)
	e.c.SetBody(`<b>C1</b>`)
	for range 3 {
		resp, body := e.get("/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := strings.Count(body, "<b>C1</b>"); n == 0 || n > config.DefaultSlotsPerPage {
			t.Fatalf("%d leaf fragments on one page, want 1..%d", n, config.DefaultSlotsPerPage)
		}
		if n := strings.Count(body, "<i>"); n > config.DefaultMarkersPerAnswer+1 {
			t.Fatalf("%d copies of b on one page, want at most %d", n, config.DefaultMarkersPerAnswer+1)
		}
		if len(body) > 256<<10 {
			t.Fatalf("page is %d bytes", len(body))
		}
	}
	if v := e.metric(`tessera_nested_refused_total{reason="markers_per_answer"}`); v == "" || v == "0" {
		t.Fatalf("refused markers not counted: %q", v)
	}
	if n := strings.Count(e.logs.String(), "nested slots refused"); n != 3 {
		t.Fatalf("%d log lines about refused markers for 3 pages, want one per page:\n%.2000s", n, e.logs.String())
	}
}

// TestNestedPageBytes: the page's fragment markup stays within page_bytes.
func TestNestedPageBytes(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "nest: [c]"}, documentOrder, func(src string) string { return src + "limits:\n  page_bytes: 300\n" })
	e.a.SetBody(`<a>` + strings.Repeat(`<!--@slot:c-->`, 8) + `</a>`)
	e.b.SetBody(`<u>B</u>`)
	e.c.SetBody(`<b>C1-padded-to-be-a-little-longer-than-a-few-bytes</b>`)
	_, body := e.get("/")
	main := body[strings.Index(body, "<main>")+6 : strings.Index(body, "</main>")]
	if len(main) > 300 {
		t.Fatalf("%d bytes of fragment markup, want at most 300:\n%s", len(main), main)
	}
	if v := e.metric(`tessera_nested_refused_total{reason="page_bytes"}`); v == "" || v == "0" {
		t.Fatal("refusal page_bytes not counted")
	}
}

// TestNestedLimits checks each configured limit on its own.
func TestNestedLimits(t *testing.T) {
	for _, tt := range []struct {
		name, limits, aBody, reason string
		leaves                      int
	}{
		{"markers per answer", "markers_per_answer: 2", strings.Repeat(`<!--@slot:c-->`, 5), "markers_per_answer", 2},
		{"slots per page", "slots_per_page: 5", strings.Repeat(`<!--@slot:c-->`, 5), "slots_per_page", 2},
		{"depth", "depth: 1", `<!--@slot:c-->`, "depth", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"a": "nest: [c]"}, func(src string) string { return src + "limits:\n  " + tt.limits + "\n" })
			e.a.SetBody(`<a>` + tt.aBody + `</a>`)
			e.b.SetBody(`<u>B</u>`)
			e.c.SetBody(`<b>C1-padded-to-be-a-little-longer-than-a-few-bytes</b>`)
			_, body := e.get("/")
			// The page's own slot c holds one leaf of its own.
			if n := strings.Count(body, "<b>C1") - 1; n != tt.leaves {
				t.Fatalf("%d nested leaves, want %d:\n%s", n, tt.leaves, body)
			}
			if v := e.metric(`tessera_nested_refused_total{reason="` + tt.reason + `"}`); v == "" || v == "0" {
				t.Fatalf("refusal %s not counted", tt.reason)
			}
		})
	}
}

// TestNestedPlacesOnlyWhatConfigAllows: a fragment's markup may place only
// the fragments its config names, only with parameters they allow; the
// composer never calls a fragment for a refused marker.
func TestNestedPlacesOnlyWhatConfigAllows(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "nest: [b]\nttl: 0s", "b": "params: {view: [mini, x]}"})
	e.b.SetBody(`<u>B</u>`)
	for _, tt := range []struct{ name, marker string }{
		{"not named in nest", `<!--@slot:c-->`},
		{"parameter not allowed", `<!--@slot:b view=admin-->`},
		{"parameter not declared", `<!--@slot:b view=mini limit=999999-->`},
		{"primary set by a fragment", `<!--@slot:b primary=true-->`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.a.SetBody(`<a>` + tt.marker + `</a>`)
			bq, cq := e.b.Calls(), e.c.Calls()
			_, body := e.get("/?n=" + url.QueryEscape(tt.name))
			if !strings.Contains(body, `<a><div class="frag-empty"`) {
				t.Fatalf("marker %s was filled:\n%s", tt.marker, body)
			}
			// The page's own slots b and c are cached after the first page.
			if e.b.Calls() > bq+1 || e.c.Calls() > cq+1 {
				t.Fatalf("a refused marker made the composer call a fragment")
			}
		})
	}
	e.a.SetBody(`<a><!--@slot:b view=mini--></a>`)
	e.waitCached(2)
	_, body := e.get("/")
	if !strings.Contains(body, `<a><u>B</u></a>`) {
		t.Fatalf("allowed marker not filled:\n%s", body)
	}
}
