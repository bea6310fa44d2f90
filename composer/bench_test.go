package composer_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// benchPage starts three 3 KB fragments and a composer on an in-memory
// listener, with the given TTL for every fragment ("0s" disables caching).
func benchPage(b *testing.B, ttl string, cache composer.Cache) *fasthttp.Client {
	b.Helper()
	body := func(n string) string {
		return `<section data-fragment="` + n + `">` + strings.Repeat("x", 3000) + `</section>`
	}
	frags := []*composertest.Fragment{
		composertest.NewFragment(b, "a", body("a")),
		composertest.NewFragment(b, "b", body("b")),
		composertest.NewFragment(b, "c", body("c")),
	}
	layout := "<!doctype html><html><head><title>bench</title></head><body>" + strings.Repeat("<p>static</p>", 60) +
		"<!--@slot:a--><aside><!--@slot:b--><!--@slot:c--></aside></body></html>"
	var y strings.Builder
	y.WriteString("fragments:\n")
	for _, f := range frags {
		fmt.Fprintf(&y, "  %s:\n    url: %s\n    ttl: %s\n    timeout: 2s\n", f.Name, f.URL, ttl)
	}
	y.WriteString("pages:\n  - path: /\n    layout: page.html\n")
	site := composertest.Site(b, y.String(), map[string]string{"page.html": layout})
	if cache == nil {
		mc, err := memcache.New(0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = mc.Close() })
		cache = mc
	}
	set := metrics.NewSet()
	comp, err := composer.New(composer.Options{Site: site, Cache: cache, Metrics: set})
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	srv := front.NewServer(front.Handler(front.Options{Composer: comp, Metrics: set}), nil)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		_ = comp.Close()
	})
	client := &fasthttp.Client{
		Dial:            func(string) (net.Conn, error) { return ln.Dial() },
		MaxConnsPerHost: 1024,
	}
	// Warm up: fill the cache where caching is on.
	for range 3 {
		if code, _, err := client.Get(nil, "http://tessera/"); err != nil || code != 200 {
			b.Fatalf("warm-up: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return client
}

func runPages(b *testing.B, client *fasthttp.Client) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://tessera/")
		for pb.Next() {
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 || len(resp.Body()) < 9000 {
				b.Errorf("page: %d bytes, status %d, %v", len(resp.Body()), resp.StatusCode(), err)
				return
			}
		}
	})
}

// BenchmarkPageCached composes a page whose three fragments are all in the
// in-process cache: the stitching and lookup cost alone.
func BenchmarkPageCached(b *testing.B) {
	runPages(b, benchPage(b, "1h", nil))
}

// BenchmarkPageUncached composes a page whose fragments are fetched from
// loopback services on every request (TTL 0): fan-out and streaming cost.
func BenchmarkPageUncached(b *testing.B) {
	runPages(b, benchPage(b, "0s", nil))
}

// BenchmarkParseLayout parses a 10 KB layout with three slots.
func BenchmarkParseLayout(b *testing.B) {
	html := []byte(strings.Repeat("<p>static text</p>", 500) + "<!--@slot:a--><!--@slot:b view=x--><!--@slot:c-->")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.ParseMarkers(html); err != nil {
			b.Fatal(err)
		}
	}
}
