package rediscache_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

func TestEntryRoundTripThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisconn.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := rediscache.New(rdb, rediscache.Options{})
	ctx := context.Background()
	e := &composer.Entry{Body: []byte("<p>x</p>"), Version: "1.0.0", Stored: time.UnixMilli(time.Now().UnixMilli()), MaxAge: time.Minute}
	if err := c.Set(ctx, "k1", e, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMulti(ctx, []string{"k0", "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || got[1] == nil || string(got[1].Body) != "<p>x</p>" || got[1].Version != "1.0.0" || !got[1].Stored.Equal(e.Stored) {
		t.Fatalf("GetMulti = %+v", got)
	}
	if ttl := rs.Client(t).PTTL(ctx, "k1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("key kept for %s, want <= 1m", ttl)
	}
	ok1, _ := c.TryLock(ctx, "x", time.Second)
	ok2, _ := c.TryLock(ctx, "x", time.Second)
	if !ok1 || ok2 {
		t.Fatalf("TryLock twice = %v, %v; want true, false", ok1, ok2)
	}
}

// site builds a three-fragment site on fake fragment services.
type site struct {
	frags []*composertest.Fragment
	yaml  string
}

func newSite(t testing.TB, fragYAML string) *site {
	t.Helper()
	s := &site{}
	for _, n := range []string{"a", "b", "c"} {
		s.frags = append(s.frags, composertest.NewFragment(t, n, `<section data-fragment="`+n+`">`+strings.ToUpper(n)+`1</section>`))
	}
	var y strings.Builder
	y.WriteString("fragments:\n")
	for _, f := range s.frags {
		fmt.Fprintf(&y, "  %s:\n    url: %s\n", f.Name, f.URL)
		if !strings.Contains(fragYAML, "timeout:") {
			y.WriteString("    timeout: 500ms\n")
		}
		for _, line := range strings.Split(strings.TrimSpace(fragYAML), "\n") {
			if line != "" {
				y.WriteString("    " + line + "\n")
			}
		}
	}
	y.WriteString("pages:\n  - path: /\n    layout: page.html\n")
	s.yaml = y.String()
	return s
}

// startComposer runs a composer on 127.0.0.1 with a Redis cache.
func (s *site) startComposer(t testing.TB, redisURL string) string {
	t.Helper()
	st := composertest.Site(t, s.yaml, map[string]string{"page.html": "<html><body><!--@slot:a--><!--@slot:b--><!--@slot:c--></body></html>"})
	rdb, err := redisconn.NewClient(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	// A generous timeout: these tests count upstream fetches, and a lookup
	// that times out on a loaded machine is (correctly) a miss.
	comp, err := composer.New(composer.Options{Site: st, Cache: rediscache.New(rdb, rediscache.Options{Timeout: 500 * time.Millisecond}), Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	srv := front.NewServer(front.Handler(front.Options{Composer: comp, Metrics: set}), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		<-done
		_ = comp.Close()
		_ = rdb.Close()
	})
	return "http://" + ln.Addr().String()
}

func (s *site) calls() (n []int64) {
	for _, f := range s.frags {
		n = append(n, f.Calls())
	}
	return n
}

func getPage(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func wholePage(body string) bool {
	return strings.Contains(body, "A1") && strings.Contains(body, "B1") && strings.Contains(body, "C1")
}

func TestSecondComposerReadsFirstComposersCache(t *testing.T) {
	rs := redistest.Start(t)
	s := newSite(t, "ttl: 1m")
	one, two := s.startComposer(t, rs.URL()), s.startComposer(t, rs.URL())
	if _, body, err := getPage(http.DefaultClient, one+"/"); err != nil || !wholePage(body) {
		t.Fatalf("first page: %v %s", err, body)
	}
	waitKeys(t, rs, 3)
	if _, body, err := getPage(http.DefaultClient, two+"/"); err != nil || !wholePage(body) {
		t.Fatalf("second page: %v %s", err, body)
	}
	for i, n := range s.calls() {
		if n != 1 {
			t.Errorf("fragment %s fetched %d times, want 1", s.frags[i].Name, n)
		}
	}
}

func waitKeys(t *testing.T, rs *redistest.Server, n int) {
	t.Helper()
	rdb := rs.Client(t)
	deadline := time.Now().Add(2 * time.Second)
	for {
		keys, _ := rdb.Keys(context.Background(), "tessera:f:*").Result()
		if len(keys) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis holds %d fragment keys, want %d", len(keys), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestColdBurstFetchesOncePerFragment(t *testing.T) {
	rs := redistest.Start(t)
	// A generous timeout: 500 pages at once on a small machine under -race
	// queue for a while, and a page cut at its timeout would count as failed.
	s := newSite(t, "ttl: 1m\ntimeout: 5s")
	for _, f := range s.frags {
		f.SetDelay(100 * time.Millisecond)
	}
	base := s.startComposer(t, rs.URL())
	const n = 500
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := getPage(client, base+"/")
			if err != nil || code != 200 || !wholePage(body) {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b > 0 {
		t.Fatalf("%d of %d pages failed or were incomplete", b, n)
	}
	for i, c := range s.calls() {
		if c != 1 {
			t.Errorf("fragment %s fetched %d times for %d concurrent cold pages, want 1", s.frags[i].Name, c, n)
		}
	}
}

func TestTwoComposersRefreshStaleKeyOnce(t *testing.T) {
	rs := redistest.Start(t)
	s := newSite(t, "ttl: 200ms\nswr: 1m")
	one, two := s.startComposer(t, rs.URL()), s.startComposer(t, rs.URL())
	if _, body, _ := getPage(http.DefaultClient, one+"/"); !wholePage(body) {
		t.Fatalf("first page incomplete: %s", body)
	}
	waitKeys(t, rs, 3)
	time.Sleep(250 * time.Millisecond) // every key is now stale, inside SWR
	for _, f := range s.frags {
		f.SetDelay(50 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := one
			if i%2 == 1 {
				base = two
			}
			if _, body, err := getPage(http.DefaultClient, base+"/"); err != nil || !wholePage(body) {
				t.Errorf("stale page: %v", err)
			}
		}()
	}
	wg.Wait()
	// Every page is done; wait for the one background refresh per key.
	deadline := time.Now().Add(10 * time.Second)
	for refreshed := false; !refreshed && time.Now().Before(deadline); {
		refreshed = true
		for _, c := range s.calls() {
			refreshed = refreshed && c >= 2
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, c := range s.calls() {
		if c != 2 {
			t.Errorf("fragment %s fetched %d times, want 2 (first fill + one refresh across both composers)", s.frags[i].Name, c)
		}
	}
}

func TestRedisKilledAndRestartedUnderLoad(t *testing.T) {
	rs := redistest.Start(t)
	s := newSite(t, "ttl: 1s")
	base := s.startComposer(t, rs.URL())
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	var pages, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := getPage(client, base+"/")
				pages.Add(1)
				if err != nil || code != 200 || !wholePage(body) {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	rs.Kill()
	time.Sleep(500 * time.Millisecond)
	rs.Restart()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d pages failed while Redis was killed and restarted", f, pages.Load())
	}
	// Back in use without a restart: new keys appear in the new Redis.
	waitKeys(t, rs, 3)
}

func TestBlackholedRedisAddsAtMostItsTimeout(t *testing.T) {
	rs := redistest.Start(t)
	s := newSite(t, "ttl: 1m")
	base := s.startComposer(t, rs.URL())
	if _, body, _ := getPage(http.DefaultClient, base+"/"); !wholePage(body) {
		t.Fatal("first page incomplete")
	}
	rs.Pause()
	defer rs.Resume()
	for range 5 {
		start := time.Now()
		code, body, err := getPage(http.DefaultClient, base+"/")
		if err != nil || code != 200 || !wholePage(body) {
			t.Fatalf("page with black-holed Redis: %d %v", code, err)
		}
		// The cache lookup is bounded at 50ms; fragments answer at once.
		// Generous bound for a loaded CI machine, far below a hang.
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("page took %s with Redis black-holed", d)
		}
	}
}

// BenchmarkGetMulti reads three 3 KB fragments in one round trip.
func BenchmarkGetMulti(b *testing.B) {
	rs := redistest.Start(b)
	rdb, err := redisconn.NewClient(rs.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	c := rediscache.New(rdb, rediscache.Options{Timeout: time.Second})
	ctx := context.Background()
	keys := []string{"tessera:f:a:0:", "tessera:f:b:0:", "tessera:f:c:0:"}
	for _, k := range keys {
		if err := c.Set(ctx, k, &composer.Entry{Body: []byte(strings.Repeat("x", 3072)), Stored: time.Now(), MaxAge: time.Hour}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, err := c.GetMulti(ctx, keys)
			if err != nil || got[2] == nil {
				b.Errorf("GetMulti: %v", err)
				return
			}
		}
	})
}

// BenchmarkPageCachedRedis serves a page whose three fragments are all in
// Redis, over loopback HTTP.
func BenchmarkPageCachedRedis(b *testing.B) {
	rs := redistest.Start(b)
	s := newSite(b, "ttl: 1h")
	base := s.startComposer(b, rs.URL())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	if _, body, err := getPage(client, base+"/"); err != nil || !wholePage(body) {
		b.Fatalf("warm-up: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code, body, err := getPage(client, base+"/"); err != nil || code != 200 || !wholePage(body) {
				b.Errorf("page: %d %v", code, err)
				return
			}
		}
	})
}

func TestClientOptionsFromOneURL(t *testing.T) {
	tests := []struct {
		url    string
		addrs  []string
		master string
		db     int
	}{
		{"redis://127.0.0.1:6379/2", []string{"127.0.0.1:6379"}, "", 2},
		{"redis://s1:26379/0?master_name=mymaster&addr=s2:26379", []string{"s1:26379", "s2:26379"}, "mymaster", 0},
		{"redis://n1:6379?addr=n2:6379&addr=n3:6379", []string{"n1:6379", "n2:6379", "n3:6379"}, "", 0},
	}
	for _, tt := range tests {
		o, err := redisconn.ClientOptions(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if strings.Join(o.Addrs, ",") != strings.Join(tt.addrs, ",") || o.MasterName != tt.master || o.DB != tt.db {
			t.Errorf("%s: addrs %v master %q db %d", tt.url, o.Addrs, o.MasterName, o.DB)
		}
		// Short, but above the adaptive bound's ceiling, which the context
		// carries.
		if !o.ContextTimeoutEnabled || o.MaxRetries != 1 || o.ReadTimeout <= rediscache.DefaultMaxTimeout || o.ReadTimeout > time.Second {
			t.Errorf("%s: timeouts not applied: read %v, retries %d, context timeouts %v", tt.url, o.ReadTimeout, o.MaxRetries, o.ContextTimeoutEnabled)
		}
	}
	if _, err := redisconn.ClientOptions("http://x"); err == nil {
		t.Error("an http URL was accepted")
	}
}

// TestThroughSentinel runs a real Sentinel in front of a real Redis and
// uses the cache through a master_name URL.
func TestThroughSentinel(t *testing.T) {
	rs := redistest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor cache %s 1\n",
		port, dir, strings.Replace(rs.Addr(), ":", " ", 1))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	rdb, err := redisconn.NewClient(fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=cache", port))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := rediscache.New(rdb, rediscache.Options{Timeout: time.Second})
	ctx := context.Background()
	e := &composer.Entry{Body: []byte("via sentinel"), Stored: time.Now(), MaxAge: time.Minute}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = c.Set(ctx, "k", e, time.Minute)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("set through sentinel: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := c.GetMulti(ctx, []string{"k"})
	if err != nil || got[0] == nil || string(got[0].Body) != "via sentinel" {
		t.Fatalf("get through sentinel: %v %v", got, err)
	}
	// The value is in the master the sentinel names.
	if v, _ := rs.Client(t).Exists(ctx, "k").Result(); v != 1 {
		t.Error("the key is not in the master")
	}
}
