package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp compresses responses on a pool of stackless workers
		// that live for the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreAnyFunction("github.com/maypok86/otter/v2.(*cache[...]).periodicCleanUp"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

const token = "s3cret-admin-token"

// fragments are the fake services a site is built on.
type fragments struct {
	headlines, weather, shows *composertest.Fragment
}

func newFragments(t *testing.T) *fragments {
	return &fragments{
		headlines: composertest.NewFragment(t, "headlines", `<section data-fragment="headlines">H</section>`),
		weather:   composertest.NewFragment(t, "weather", `<section data-fragment="weather">W</section>`),
		shows:     composertest.NewFragment(t, "shows", `<section data-fragment="shows">S</section>`),
	}
}

func (fs *fragments) site(t *testing.T) *config.Site {
	t.Helper()
	src := fmt.Sprintf(`inputs:
  city: {query: city, default: london}
defaults:
  timeout: 500ms
fragments:
  headlines:
    url: %s
    ttl: 30s
  weather:
    url: %s
    vary: [city]
    swr: 1m
    auth: {kind: bearer, secret_env: WEATHER_TOKEN}
  shows:
    url: %s
    ttl: 10s
    sie: 10m
    timeout: 700ms
    primary: true
    auth: {kind: hmac, secret_env: SHOWS_SECRET}
pages:
  - {path: /, title: Home, layout: home.html}
  - {path: /shows, title: Shows, layout: shows.html}
`, fs.headlines.URL, fs.weather.URL, fs.shows.URL)
	return composertest.Site(t, src, map[string]string{
		"home.html":  `<!doctype html><main><!--@slot:headlines--><!--@slot:weather--></main>`,
		"shows.html": `<!doctype html><main><!--@slot:shows--><!--@slot:headlines--></main>`,
	})
}

// server is a composer with the admin API on a loopback port.
type server struct {
	t     *testing.T
	comp  *composer.Composer
	store *settings.Store
	base  string
	http  *http.Client
}

func startServer(t *testing.T, site *config.Site, store *settings.Store, tok string) *server {
	t.Helper()
	return startServerWith(t, site, admin.Options{Settings: store, Token: tok})
}

// startServerWith is startServer with more options; o.Settings must be a
// *settings.Store.
func startServerWith(t *testing.T, site *config.Site, o admin.Options) *server {
	t.Helper()
	store := o.Settings.(*settings.Store)
	cache, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := composer.New(composer.Options{Site: site, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { defer close(watching); store.Watch(ctx, comp.SetTuning) }()
	o.Composer = comp
	h, err := admin.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := front.NewServer(front.Handler(front.Options{Composer: comp, Admin: h}), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	s := &server{t: t, comp: comp, store: store, base: "http://" + ln.Addr().String(), http: &http.Client{Timeout: 5 * time.Second}}
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		<-done
		cancel()
		<-watching
		_ = comp.Close()
		_ = cache.Close()
		s.http.CloseIdleConnections()
	})
	return s
}

func (s *server) do(method, path, body string, hdr ...string) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func decodeRow(t *testing.T, body string) admin.Fragment {
	t.Helper()
	var row admin.Fragment
	if err := json.Unmarshal([]byte(body), &row); err != nil {
		t.Fatalf("decode row: %v\n%s", err, body)
	}
	return row
}

func override(c *composer.Composer, name string) composer.Override {
	return c.Tuning().Overrides[name]
}

func TestAPI(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, s *server, body string)
	errorSays := func(sub string) check {
		return func(t *testing.T, s *server, body string) {
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, sub) {
				t.Errorf("error body %s; want an error mentioning %q", body, sub)
			}
			if len(s.comp.Tuning().Overrides) != 0 || len(s.comp.Tuning().Generations) != 0 {
				t.Errorf("a refused request changed the tuning: %+v", s.comp.Tuning())
			}
		}
	}
	tests := []struct {
		name       string
		method     string
		path, body string
		hdr        []string
		want       int
		check      check
	}{
		{
			name: "list", method: "GET", path: "/_tessera/api/fragments", hdr: bearer(token), want: 200,
			check: func(t *testing.T, s *server, body string) {
				var rows []admin.Fragment
				if err := json.Unmarshal([]byte(body), &rows); err != nil {
					t.Fatalf("decode: %v\n%s", err, body)
				}
				for i := range rows {
					rows[i].URL = ""
				}
				want := []admin.Fragment{
					{Name: "headlines", Auth: "none", TTL: "30s", TTLSource: "config", SWR: "", SWRSource: "fragment", SIE: "", SIESource: "fragment", Timeout: "500ms", Vary: []string{}, Pages: []string{"/", "/shows"}},
					{Name: "shows", Auth: "hmac", TTL: "10s", TTLSource: "config", SWR: "", SWRSource: "fragment", SIE: "10m", SIESource: "config", Timeout: "700ms", Primary: true, Vary: []string{}, Pages: []string{"/shows"}},
					{Name: "weather", Auth: "bearer", TTL: "", TTLSource: "fragment", SWR: "1m", SWRSource: "config", SIE: "", SIESource: "fragment", Timeout: "500ms", Vary: []string{"city"}, Pages: []string{"/"}},
				}
				if diff := cmp.Diff(want, rows); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if strings.Contains(body, "env-secret") {
					t.Errorf("the list shows a fragment secret:\n%s", body)
				}
			},
		},
		{
			name: "one fragment", method: "GET", path: "/_tessera/api/fragments/weather", hdr: bearer(token), want: 200,
			check: func(t *testing.T, s *server, body string) {
				if r := decodeRow(t, body); r.Name != "weather" || r.Auth != "bearer" {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name: "set ttl", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"5s","swr":"0s"}`, hdr: bearer(token), want: 200,
			check: func(t *testing.T, s *server, body string) {
				r := decodeRow(t, body)
				if r.TTL != "5s" || r.TTLSource != "override" || r.SWR != "0s" || r.SWRSource != "override" || r.SIESource != "fragment" {
					t.Errorf("row after set: %+v", r)
				}
				o := override(s.comp, "headlines")
				if o.TTL == nil || *o.TTL != 5*time.Second || o.SWR == nil || *o.SWR != 0 || o.SIE != nil {
					t.Errorf("composer tuning: %+v", o)
				}
			},
		},
		{name: "bad duration", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"3 seconds"}`, hdr: bearer(token), want: 400, check: errorSays(`ttl: "3 seconds" is not a duration`)},
		{name: "over 7 days", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"30s","sie":"200h"}`, hdr: bearer(token), want: 400, check: errorSays(`sie: "200h" must be between 0s and 168h`)},
		{name: "negative", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"-1s"}`, hdr: bearer(token), want: 400, check: errorSays("must be between")},
		{name: "unknown field", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"tll":"1s"}`, hdr: bearer(token), want: 400, check: errorSays("unknown field")},
		{name: "number not string", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":30}`, hdr: bearer(token), want: 400, check: errorSays("JSON object")},
		{name: "broken JSON", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":`, hdr: bearer(token), want: 400, check: errorSays("JSON object")},
		{name: "two objects", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"1s"}{}`, hdr: bearer(token), want: 400, check: errorSays("one JSON object")},
		{name: "nothing to set", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{}`, hdr: bearer(token), want: 400, check: errorSays("at least one of ttl, swr, sie")},
		{name: "body too large", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"1s"` + strings.Repeat(" ", 5000) + `}`, hdr: bearer(token), want: 413, check: errorSays("larger than")},
		{name: "unknown fragment", method: "PUT", path: "/_tessera/api/fragments/nope/ttl", body: `{"ttl":"1s"}`, hdr: bearer(token), want: 404, check: errorSays(`unknown fragment "nope"`)},
		{name: "unknown fragment get", method: "GET", path: "/_tessera/api/fragments/nope", hdr: bearer(token), want: 404, check: errorSays(`unknown fragment`)},
		{name: "missing token", method: "PUT", path: "/_tessera/api/fragments/headlines/ttl", body: `{"ttl":"1s"}`, want: 401, check: errorSays("TESSERA_ADMIN_TOKEN")},
		{name: "wrong token", method: "GET", path: "/_tessera/api/fragments", hdr: bearer("guess"), want: 401, check: errorSays("wrong admin token")},
		{name: "basic auth", method: "GET", path: "/_tessera/api/fragments", hdr: []string{"Authorization", "Basic " + token}, want: 401, check: errorSays("admin token")},
		{name: "cross-origin write", method: "POST", path: "/_tessera/api/purge?fragment=headlines", hdr: append(bearer(token), "Origin", "http://evil.example"), want: 403, check: errorSays("cross-origin")},
		{name: "unknown endpoint", method: "GET", path: "/_tessera/api/nope", hdr: bearer(token), want: 404, check: errorSays("no such API endpoint")},
		{name: "wrong method", method: "POST", path: "/_tessera/api/fragments", hdr: bearer(token), want: 405, check: errorSays("not allowed")},
		{name: "outside the API", method: "GET", path: "/_tessera/other", want: 404, check: errorSays("not found")},
		{
			name: "purge", method: "POST", path: "/_tessera/api/purge?fragment=shows", hdr: bearer(token), want: 200,
			check: func(t *testing.T, s *server, body string) {
				if body != `{"fragment":"shows","generation":1}`+"\n" {
					t.Errorf("body %s", body)
				}
				if g := s.comp.Tuning().Generations["shows"]; g != 1 {
					t.Errorf("composer generation %d; want 1", g)
				}
			},
		},
		{name: "purge unknown", method: "POST", path: "/_tessera/api/purge?fragment=nope", hdr: bearer(token), want: 404, check: errorSays("unknown fragment")},
		{name: "purge without fragment", method: "POST", path: "/_tessera/api/purge", hdr: bearer(token), want: 400, check: errorSays("fragment name is required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, newFragments(t).site(t), settings.NewMemory(settings.Options{}), token)
			status, hdr, body := s.do(tt.method, tt.path, tt.body, tt.hdr...)
			if status != tt.want {
				t.Fatalf("%s %s = %d; want %d\n%s", tt.method, tt.path, status, tt.want, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := hdr.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if status == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(body, token) {
				t.Errorf("the answer holds the admin token: %s", body)
			}
			tt.check(t, s, body)
		})
	}
}

func TestClearOverride(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFragments(t).site(t), settings.NewMemory(settings.Options{}), token)
	if st, _, body := s.do("PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"2m"}`, bearer(token)...); st != 200 {
		t.Fatalf("set: %d %s", st, body)
	}
	// A later write of another field keeps the TTL.
	if st, _, body := s.do("PUT", "/_tessera/api/fragments/weather/ttl", `{"sie":"1h"}`, bearer(token)...); st != 200 {
		t.Fatalf("set sie: %d %s", st, body)
	} else if r := decodeRow(t, body); r.TTL != "2m" || r.SIE != "1h" || r.SWR != "1m" || r.SWRSource != "config" {
		t.Errorf("row after second set: %+v", r)
	}
	st, _, body := s.do("DELETE", "/_tessera/api/fragments/weather/ttl", "", bearer(token)...)
	if st != 200 {
		t.Fatalf("clear: %d %s", st, body)
	}
	if r := decodeRow(t, body); r.TTL != "" || r.TTLSource != "fragment" || r.SIESource != "fragment" {
		t.Errorf("row after clear: %+v", r)
	}
	if _, ok := s.comp.Tuning().Overrides["weather"]; ok {
		t.Errorf("composer still has the override: %+v", s.comp.Tuning())
	}
}

func TestPurgeRefetches(t *testing.T) {
	t.Parallel()
	fs := newFragments(t)
	s := startServer(t, fs.site(t), settings.NewMemory(settings.Options{}), token)
	page := func() {
		t.Helper()
		if st, _, body := s.do("GET", "/", ""); st != 200 || !strings.Contains(body, ">H<") {
			t.Fatalf("page: %d %s", st, body)
		}
	}
	page()
	page()
	if n := fs.headlines.Calls(); n != 1 {
		t.Fatalf("headlines fetched %d times before the purge; want 1", n)
	}
	_, _, list := s.do("GET", "/_tessera/api/fragments/headlines", "", bearer(token)...)
	if r := decodeRow(t, list); r.Hits != 1 || r.Misses != 1 || r.Stale != 0 || r.Errors != 0 {
		t.Errorf("counters %+v; want 1 hit, 1 miss", r)
	}
	fs.headlines.SetBody(`<section data-fragment="headlines">H2</section>`)
	if st, _, body := s.do("POST", "/_tessera/api/purge?fragment=headlines", "", bearer(token)...); st != 200 {
		t.Fatalf("purge: %d %s", st, body)
	}
	if _, _, body := s.do("GET", "/", ""); !strings.Contains(body, ">H2<") {
		t.Errorf("page after purge still has the old copy: %s", body)
	}
	if n := fs.headlines.Calls(); n != 2 {
		t.Errorf("headlines fetched %d times; want 2", n)
	}
	if n := fs.weather.Calls(); n != 1 {
		t.Errorf("purging headlines refetched weather (%d calls)", n)
	}
}

func TestNoTokenAnswersLoopbackOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFragments(t).site(t), settings.NewMemory(settings.Options{}), "")
	if st, _, body := s.do("PUT", "/_tessera/api/fragments/headlines/ttl", `{"ttl":"1s"}`); st != 200 {
		t.Fatalf("loopback without a token: %d %s", st, body)
	}
	// Through a local proxy the peer is loopback, but the client is not.
	if st, _, body := s.do("GET", "/_tessera/api/fragments", "", "X-Forwarded-For", "203.0.113.9"); st != 403 || !strings.Contains(body, "TESSERA_ADMIN_TOKEN") {
		t.Errorf("proxied request without a token: %d %s", st, body)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	loop4, loop6, remote := net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("192.0.2.7")
	tests := []struct {
		name    string
		token   string
		auth    string
		ip      net.IP
		proxied bool
		want    int
	}{
		{"no token, loopback", "", "", loop4, false, 0},
		{"no token, loopback v6", "", "", loop6, false, 0},
		{"no token, other host", "", "", remote, false, 403},
		{"no token, other host with a token", "", "Bearer x", remote, false, 403},
		{"no token, proxied", "", "", loop4, true, 403},
		{"no token, unknown peer", "", "", nil, false, 403},
		{"token, right", "t0k", "Bearer t0k", remote, false, 0},
		{"token, scheme case", "t0k", "bearer t0k", loop4, false, 0},
		{"token, wrong", "t0k", "Bearer t0K", loop4, false, 401},
		{"token, prefix only", "t0k", "Bearer t0", loop4, false, 401},
		{"token, missing", "t0k", "", loop4, false, 401},
		{"token, no scheme", "t0k", "t0k", loop4, false, 401},
		{"token, basic", "t0k", "Basic t0k", loop4, false, 401},
		{"token, empty bearer", "t0k", "Bearer ", loop4, false, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admin.Decide(tt.token, tt.auth, tt.ip, tt.proxied); got != tt.want {
				t.Errorf("decide = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestNextServesOtherPaths(t *testing.T) {
	t.Parallel()
	fs := newFragments(t)
	cache, _ := memcache.New(0)
	defer cache.Close()
	comp, _ := composer.New(composer.Options{Site: fs.site(t), Cache: cache})
	defer comp.Close()
	h, err := admin.New(admin.Options{Composer: comp, Settings: settings.NewMemory(settings.Options{}), Token: token,
		Next: func(rc *fasthttp.RequestCtx) { rc.SetBodyString("dashboard") }})
	if err != nil {
		t.Fatal(err)
	}
	var rc fasthttp.RequestCtx
	rc.Request.SetRequestURI("/_tessera/")
	h(&rc)
	if string(rc.Response.Body()) != "dashboard" {
		t.Errorf("/_tessera/ answered %q", rc.Response.Body())
	}
	if _, err := admin.New(admin.Options{Composer: comp}); err == nil {
		t.Error("New without a settings store succeeded")
	}
}

// Two composers on one Redis: a change made through one reaches the other.
func TestSharedThroughRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	fs := newFragments(t)
	store := func() *settings.Store {
		rdb, err := redisconn.NewClient(rs.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		return settings.NewRedis(rdb, settings.Options{})
	}
	a := startServer(t, fs.site(t), store(), token)
	b := startServer(t, fs.site(t), store(), token)
	if st, _, body := b.do("GET", "/", ""); st != 200 {
		t.Fatalf("page on b: %d %s", st, body)
	}

	if st, _, body := a.do("PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"45s"}`, bearer(token)...); st != 200 {
		t.Fatalf("set on a: %d %s", st, body)
	}
	if o := override(a.comp, "weather"); o.TTL == nil || *o.TTL != 45*time.Second {
		t.Errorf("a did not apply its own change at once: %+v", o)
	}
	waitFor(t, "b to see the ttl", func() bool {
		o := override(b.comp, "weather")
		return o.TTL != nil && *o.TTL == 45*time.Second
	})

	if st, _, body := a.do("POST", "/_tessera/api/purge?fragment=headlines", "", bearer(token)...); st != 200 {
		t.Fatalf("purge on a: %d %s", st, body)
	}
	waitFor(t, "b to see the purge", func() bool { return b.comp.Tuning().Generations["headlines"] == 1 })
	before := fs.headlines.Calls()
	b.do("GET", "/", "")
	if n := fs.headlines.Calls(); n != before+1 {
		t.Errorf("b did not refetch headlines after the purge (%d calls, %d before)", n, before)
	}
	_, _, body := b.do("GET", "/_tessera/api/fragments/weather", "", bearer(token)...)
	if r := decodeRow(t, body); r.TTL != "45s" || r.TTLSource != "override" {
		t.Errorf("b's row: %+v", r)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
