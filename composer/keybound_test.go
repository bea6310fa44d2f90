package composer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
)

// recordingCache is an empty cache that records the keys written.
type recordingCache struct {
	fakeCache
	mu   sync.Mutex
	sets map[string]int
}

func (c *recordingCache) Set(_ context.Context, key string, _ *Entry, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[string]int{}
	}
	c.sets[key]++
	return nil
}

func (c *recordingCache) keys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sets)
}

// siteFrom compiles a config whose pages use page.html.
func siteFrom(t testing.TB, src, layout string) *config.Site {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(layout), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	site, err := cfg.Compile("t.yaml", []byte(src), dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// TestKeyBound: a fragment varying by an input without an allowlist stores
// at most max_keys distinct keys per window; the rest are served but not
// cached, and counted. A fragment whose inputs are all allowlisted has no
// bound.
func TestKeyBound(t *testing.T) {
	const src = `
inputs:
  q: {query: q}
  city: {query: city, values: [oslo, paris]}
fragments:
  a: {url: "http://127.0.0.1:1/", timeout: 200ms, ttl: 60s, vary: [q], max_keys: 3}
  b: {url: "http://127.0.0.1:1/", timeout: 200ms, ttl: 60s, vary: [city]}
pages:
  - {path: /, title: T, layout: page.html}
`
	site := siteFrom(t, src, `<main><!--@slot:a--><!--@slot:b--></main>`)
	if site.Fragments["a"].MaxKeys != 3 || site.Fragments["b"].MaxKeys != 0 {
		t.Fatalf("MaxKeys a=%d b=%d, want 3 and 0", site.Fragments["a"].MaxKeys, site.Fragments["b"].MaxKeys)
	}
	rc := &recordingCache{}
	c, err := New(Options{Site: site, Cache: rc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	clk := newFakeClock()
	c.clock = clk
	c.fetcher = &fakeFetcher{fn: func(_ context.Context, req *upstream.Request) (*upstream.Answer, error) {
		return &upstream.Answer{Body: []byte("<p>" + req.URL + "</p>"), Shareable: true}, nil
	}}
	page := func(q string) string {
		t.Helper()
		body := serveOnce(t, c, "/?city=oslo&q="+q)
		c.bg.Wait()
		return body
	}
	for i := range 10 {
		if body := page(fmt.Sprintf("story-%d", i)); !strings.Contains(body, fmt.Sprintf("q=story-%d", i)) {
			t.Fatalf("page %d lacks its own answer: %s", i, body)
		}
	}
	// a: 3 keys, b: one (oslo).
	if n := rc.keys(); n != 4 {
		t.Fatalf("%d keys stored, want 4 (3 for a, 1 for b)", n)
	}
	if got := c.Stats("a").OverKeys; got != 7 {
		t.Fatalf("a OverKeys = %d, want 7", got)
	}
	if got := c.Stats("b").OverKeys; got != 0 {
		t.Fatalf("b OverKeys = %d, want 0", got)
	}
	// The window past (TTL, no stale windows), new keys are admitted again.
	clk.Advance(61 * time.Second)
	page("story-new")
	if n := rc.keys(); n != 5 {
		t.Fatalf("%d keys stored after the window, want 5", n)
	}
}

func TestKeyBoundMemoryIsBounded(t *testing.T) {
	b := newKeyBound(&config.Fragment{MaxKeys: 100})
	now := time.Now()
	for i := range 100_000 {
		b.admit(fmt.Sprint("k", i), now, time.Minute)
	}
	if len(b.seen) != 100 {
		t.Fatalf("%d keys remembered, want 100", len(b.seen))
	}
	if !b.admit("k5", now, time.Minute) || b.admit("k100000", now, time.Minute) {
		t.Fatal("an admitted key must stay admitted, a new one past the bound must not")
	}
}
