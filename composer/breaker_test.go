package composer

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tessera-dev/tessera/composer/upstream"
)

// breakerService is a fragment service on loopback that fails the n-th
// call (from 0) with a 500 when fail(n), and answers otherwise.
type breakerService struct {
	calls atomic.Int64
	fail  atomic.Pointer[func(n int64) bool]
	url   string
}

func (f *breakerService) setFail(fn func(n int64) bool) { f.fail.Store(&fn) }

func newBreakerService(t *testing.T) *breakerService {
	t.Helper()
	f := &breakerService{}
	f.setFail(func(int64) bool { return false })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + ln.Addr().String() + "/"
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		n := f.calls.Add(1) - 1
		if (*f.fail.Load())(n) {
			rc.SetStatusCode(fasthttp.StatusInternalServerError)
			return
		}
		rc.SetContentType("text/html")
		rc.SetBodyString("<p>A live</p>")
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close(); <-done })
	return f
}

// pageHandler serves c's pages alone.
func pageHandler(c *Composer) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if !c.ServePage(rc, string(rc.Path())) {
			RenderError(rc, fasthttp.StatusNotFound, "Page not found", "", "")
		}
	}
}

// pageServer serves c over an in-memory listener for the test's length and
// returns a function that GETs a path's body.
func pageServer(t *testing.T, c *Composer) func(path string) string {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: pageHandler(c)}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		_ = srv.Shutdown()
		_ = ln.Close()
		<-done
	})
	return func(path string) string {
		t.Helper()
		code, body, err := client.Get(nil, "http://t"+path)
		if err != nil || code != 200 {
			t.Fatalf("GET %s: %d %v", path, code, err)
		}
		return string(body)
	}
}

// breakerComposer serves a page whose one fragment, a, is never cached
// and has the given breaker settings.
func breakerComposer(t *testing.T, breakerYAML string) (*Composer, *breakerService, func(string) string) {
	t.Helper()
	ff := newBreakerService(t)
	src := `
fragments:
  a:
    url: "` + ff.url + `"
    timeout: 200ms
    ttl: 0s
    fallback: "<p>A resting</p>"
` + breakerYAML + `
pages:
  - {path: /, title: T, layout: page.html}
`
	c, err := New(Options{Site: siteFrom(t, src, `<main><!--@slot:a--></main>`), Cache: &fakeCache{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ff, pageServer(t, c)
}

// TestFlappingFragmentOnAboutHalfThePages: a fragment failing half its
// fetches, in runs of six (longer than the five consecutive failures that
// used to open the circuit), is on about half the pages, not skipped.
func TestFlappingFragmentOnAboutHalfThePages(t *testing.T) {
	c, ff, get := breakerComposer(t, "")
	ff.setFail(func(n int64) bool { return n%12 < 6 })
	const pages = 240
	shown := 0
	for range pages {
		body := get("/")
		switch {
		case strings.Contains(body, "<p>A live</p>"):
			shown++
		case !strings.Contains(body, "<p>A resting</p>"):
			t.Fatalf("neither the answer nor the fallback: %s", body)
		}
	}
	if share := float64(shown) / pages; share < 0.3 || share > 0.7 {
		t.Fatalf("fragment on %d of %d pages (%.0f%%), want 30–70%%; breaker %s", shown, pages, 100*share, c.BreakerState("a"))
	}
}

// TestDeadFragmentSkippedWithinCooldown: a fragment failing every fetch
// opens its circuit after min_requests fetches and is not called again
// within its cool-down.
func TestDeadFragmentSkippedWithinCooldown(t *testing.T) {
	c, ff, get := breakerComposer(t, "    breaker: {cooldown: 1h}")
	ff.setFail(func(int64) bool { return true })
	for range upstream.DefaultBreakerMinRequests {
		get("/")
	}
	if st := c.BreakerState("a"); st != "open" {
		t.Fatalf("breaker %q after %d failures, want open", st, upstream.DefaultBreakerMinRequests)
	}
	for range 50 {
		if body := get("/"); !strings.Contains(body, "<p>A resting</p>") {
			t.Fatalf("open circuit page lacks the fallback: %s", body)
		}
	}
	if n := ff.calls.Load(); n != upstream.DefaultBreakerMinRequests {
		t.Fatalf("fragment called %d times, want %d: none within the cool-down", n, upstream.DefaultBreakerMinRequests)
	}
}

// TestHalfOpenNeedsEveryProbe: after the cool-down, probes requests go
// through; the circuit closes only when all of them succeed, and one
// failure opens it again.
func TestHalfOpenNeedsEveryProbe(t *testing.T) {
	c, ff, get := breakerComposer(t, "    breaker: {min_requests: 4, probes: 3, cooldown: 20ms}")
	ff.setFail(func(int64) bool { return true })
	open := func() {
		t.Helper()
		for c.BreakerState("a") != "open" {
			get("/")
		}
		waitFor(t, func() bool { return c.BreakerState("a") == "half-open" })
	}
	open()
	// One failed probe of three: open again.
	ff.setFail(func(n int64) bool { return true })
	get("/")
	if st := c.BreakerState("a"); st != "open" && st != "half-open" {
		t.Fatalf("breaker %q after a failed probe, want open", st)
	}
	waitFor(t, func() bool { return c.BreakerState("a") == "half-open" })
	ff.setFail(func(int64) bool { return false })
	for i := range 3 {
		if st := c.BreakerState("a"); st != "half-open" {
			t.Fatalf("breaker %q after %d good probes, want half-open", st, i)
		}
		get("/")
	}
	if st := c.BreakerState("a"); st != "closed" {
		t.Fatalf("breaker %q after 3 good probes, want closed", st)
	}
}
