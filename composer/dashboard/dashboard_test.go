package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/dashboard"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/composer/settings"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreAnyFunction("github.com/maypok86/otter/v2.(*cache[...]).periodicCleanUp"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		// fasthttp compresses responses on a pool of stackless workers
		// that live for the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

const token = "s3cret-admin-token"

// site builds a site of three fake fragments on two pages.
func site(t *testing.T) *config.Site {
	t.Helper()
	h := composertest.NewFragment(t, "headlines", `<section data-fragment="headlines">H</section>`)
	w := composertest.NewFragment(t, "weather", `<section data-fragment="weather">W</section>`)
	s := composertest.NewFragment(t, "shows", `<section data-fragment="shows">S</section>`)
	h.AddHeader("Link", "</assets/headlines.1a2b3c4d.css>; rel=stylesheet")
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
    primary: true
    auth: {kind: hmac, secret_env: SHOWS_SECRET}
pages:
  - {path: /, title: Home, layout: home.html}
  - {path: /shows, title: Shows, layout: shows.html}
`, h.URL, w.URL, s.URL)
	return composertest.Site(t, src, map[string]string{
		"home.html":  `<!doctype html><main><!--@slot:headlines--><!--@slot:shows--><!--@slot:weather--></main>`,
		"shows.html": `<!doctype html><main><!--@slot:shows--><!--@slot:headlines--></main>`,
	})
}

// server is a composer with the API and the dashboard on a loopback port.
type server struct {
	t    *testing.T
	comp *composer.Composer
	base string
	http *http.Client
}

func start(t *testing.T, tok string) *server {
	t.Helper()
	return startWith(t, admin.Options{Token: tok, Settings: settings.NewMemory(settings.Options{})})
}

// startWith is start with more options; o.Settings must be a
// *settings.Store.
func startWith(t *testing.T, o admin.Options) *server {
	t.Helper()
	cache, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := composer.New(composer.Options{Site: site(t), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	store := o.Settings.(*settings.Store)
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { defer close(watching); store.Watch(ctx, comp.SetTuning) }()
	o.Composer = comp
	h, err := admin.New(dashboard.Mount(o))
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
	s := &server{t: t, comp: comp, base: "http://" + ln.Addr().String(), http: &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
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

func (s *server) do(method, path, body string, hdr ...string) (*http.Response, string) {
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
	return resp, string(b)
}

// signIn posts the token to the sign-in form and returns the session
// cookie as a Cookie header value.
func (s *server) signIn(hdr ...string) (*http.Cookie, string) {
	s.t.Helper()
	form := url.Values{"token": {token}, "next": {"/_tessera/pages"}}.Encode()
	resp, body := s.do("POST", "/_tessera/login", form, append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", s.base}, hdr...)...)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		s.t.Fatalf("sign in: %d, cookies %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
	if loc := resp.Header.Get("Location"); loc != "/_tessera/pages" {
		s.t.Errorf("after signing in: Location %q; want /_tessera/pages", loc)
	}
	c := resp.Cookies()[0]
	return c, c.Name + "=" + c.Value
}

// csrfOf reads the CSRF token a dashboard page carries.
func (s *server) csrfOf(cookie string) string {
	s.t.Helper()
	resp, body := s.do("GET", "/_tessera/", "", "Cookie", cookie)
	if resp.StatusCode != 200 {
		s.t.Fatalf("dashboard: %d", resp.StatusCode)
	}
	doc := parse(s.t, body)
	tok, ok := doc.Find(`meta[name="tessera-csrf"]`).Attr("content")
	if !ok || tok == "" {
		s.t.Fatal("no CSRF token on the dashboard")
	}
	if f, _ := doc.Find(`[data-testid="ttl-form"] input[name="csrf"]`).First().Attr("value"); f != tok {
		s.t.Errorf("form CSRF field %q differs from the page's %q", f, tok)
	}
	return tok
}

func parse(t *testing.T, body string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestAccess(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	bearer := []string{"Authorization", "Bearer " + token}
	tests := []struct {
		name     string
		path     string
		hdr      []string
		want     int
		location string
		testid   string
	}{
		{name: "overview without a session", path: "/_tessera/", want: 303, location: "/_tessera/login?next=/_tessera/"},
		{name: "pages without a session", path: "/_tessera/pages", want: 303, location: "/_tessera/login?next=/_tessera/pages"},
		{name: "numbers without a session", path: "/_tessera/stats.json", want: 401},
		{name: "API without a session", path: "/_tessera/api/fragments", want: 401},
		{name: "forged cookie", path: "/_tessera/", hdr: []string{"Cookie", admin.SessionCookie + "=4102444800.AAAA"}, want: 303, location: "/_tessera/login?next=/_tessera/"},
		{name: "the token as a cookie", path: "/_tessera/", hdr: []string{"Cookie", admin.SessionCookie + "=" + token}, want: 303, location: "/_tessera/login?next=/_tessera/"},
		{name: "wrong bearer", path: "/_tessera/stats.json", hdr: []string{"Authorization", "Bearer nope"}, want: 401},
		{name: "bearer", path: "/_tessera/", hdr: bearer, want: 200, testid: "fragments"},
		{name: "bearer pages", path: "/_tessera/pages", hdr: bearer, want: 200, testid: "page"},
		{name: "sign-in form", path: "/_tessera/login", want: 200, testid: "login"},
		{name: "script without a session", path: "/_tessera/static/dashboard.js", want: 200},
		{name: "unknown page", path: "/_tessera/nope", hdr: bearer, want: 404, testid: "notice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do("GET", tt.path, "", tt.hdr...)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d; want %d\n%.400s", tt.path, resp.StatusCode, tt.want, body)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q; want %q", got, tt.location)
			}
			if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.testid != "" {
				if parse(t, body).Find(`[data-testid="`+tt.testid+`"]`).Length() == 0 {
					t.Errorf("no %s on the page", tt.testid)
				}
				if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("Content-Security-Policy %q", csp)
				}
			}
			if strings.Contains(body, token) || strings.Contains(body, "env-secret") {
				t.Errorf("the answer holds a secret:\n%s", body)
			}
		})
	}
}

func TestNoTokenLetsInLoopbackOnly(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	if resp, body := s.do("GET", "/_tessera/", ""); resp.StatusCode != 200 || parse(t, body).Find(`[data-testid="fragment-row"]`).Length() != 3 {
		t.Errorf("loopback without a token: %d", resp.StatusCode)
	}
	// Through a local proxy the peer is loopback, but the client is not.
	for _, path := range []string{"/_tessera/", "/_tessera/login"} {
		resp, body := s.do("GET", path, "", "X-Forwarded-For", "203.0.113.9")
		if resp.StatusCode != 403 || !strings.Contains(body, "TESSERA_ADMIN_TOKEN") {
			t.Errorf("GET %s through a proxy without a token: %d\n%.300s", path, resp.StatusCode, body)
		}
	}
	if resp, _ := s.do("GET", "/_tessera/stats.json", "", "X-Forwarded-For", "203.0.113.9"); resp.StatusCode != 403 {
		t.Errorf("numbers through a proxy without a token: %d", resp.StatusCode)
	}
	// Loopback forms still need the page's CSRF token.
	if resp, _ := s.do("POST", "/_tessera/fragments/headlines/purge", "", "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != 403 {
		t.Errorf("purge form without a CSRF token: %d", resp.StatusCode)
	}
	tok := s.csrfOf("")
	if resp, _ := s.do("POST", "/_tessera/fragments/headlines/purge", "csrf="+url.QueryEscape(tok), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != 303 {
		t.Errorf("purge form: %d", resp.StatusCode)
	}
	if g := s.comp.Tuning().Generations["headlines"]; g != 1 {
		t.Errorf("generation %d after the purge; want 1", g)
	}
}

func TestSignInCookie(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	formHdr := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", s.base}

	for _, tt := range []struct {
		name string
		body string
		hdr  []string
		want int
	}{
		{"wrong token", "token=guess", formHdr, 200},
		{"empty token", "token=", formHdr, 200},
		{"from another site", "token=" + token, []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.example"}, 403},
		{"cross-site fetch", "token=" + token, []string{"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site"}, 403},
	} {
		resp, body := s.do("POST", "/_tessera/login", tt.body, tt.hdr...)
		if resp.StatusCode != tt.want || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d, cookies %v; want %d and none", tt.name, resp.StatusCode, resp.Cookies(), tt.want)
		}
		if parse(t, body).Find(`[data-testid="login-error"]`).Length() != 1 {
			t.Errorf("%s: the form does not say what went wrong", tt.name)
		}
	}

	c, cookie := s.signIn()
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/_tessera/" || c.Secure || c.MaxAge <= 0 {
		t.Errorf("cookie %+v; want HttpOnly, SameSite=Strict, Path=/_tessera/, not Secure over plain HTTP, a Max-Age", c)
	}
	if strings.Contains(c.Value, token) {
		t.Errorf("the cookie holds the token: %q", c.Value)
	}
	if c2, _ := s.signIn("X-Forwarded-Proto", "https"); !c2.Secure {
		t.Error("cookie not Secure behind a TLS proxy")
	}

	resp, body := s.do("GET", "/_tessera/", "", "Cookie", cookie)
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard with the cookie: %d", resp.StatusCode)
	}
	if parse(t, body).Find(`[data-testid="sign-out"]`).Length() != 1 {
		t.Error("no sign-out button when signed in")
	}
	if resp, _ := s.do("GET", "/_tessera/api/fragments", "", "Cookie", cookie); resp.StatusCode != 200 {
		t.Errorf("API with the cookie: %d", resp.StatusCode)
	}
	if resp, _ := s.do("GET", "/_tessera/stats.json", "", "Cookie", cookie); resp.StatusCode != 200 {
		t.Errorf("numbers with the cookie: %d", resp.StatusCode)
	}

	// Signing out needs the CSRF token, clears the cookie and sends the
	// browser to the sign-in form.
	if resp, _ := s.do("POST", "/_tessera/logout", "", "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != 403 {
		t.Errorf("sign-out without a CSRF token: %d", resp.StatusCode)
	}
	resp, _ = s.do("POST", "/_tessera/logout", "csrf="+url.QueryEscape(s.csrfOf(cookie)), "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/_tessera/login" {
		t.Errorf("sign-out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].Value != "" || cs[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %+v; want the session cleared", cs)
	}
}

func TestWritesNeedCSRFToken(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	_, cookie := s.signIn()
	csrf := s.csrfOf(cookie)
	form, formType := "Content-Type", "application/x-www-form-urlencoded"

	refused := []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"form without token", "POST", "/_tessera/fragments/weather/ttl", "ttl=5s", []string{"Cookie", cookie, form, formType}},
		{"form with a wrong token", "POST", "/_tessera/fragments/weather/ttl", "ttl=5s&csrf=AAAA", []string{"Cookie", cookie, form, formType}},
		{"form from another site", "POST", "/_tessera/fragments/weather/ttl", "ttl=5s&csrf=" + url.QueryEscape(csrf), []string{"Cookie", cookie, form, formType, "Origin", "http://evil.example"}},
		{"purge form without token", "POST", "/_tessera/fragments/weather/purge", "", []string{"Cookie", cookie, form, formType}},
		{"API without token", "PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"5s"}`, []string{"Cookie", cookie}},
		{"API with a wrong token", "PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"5s"}`, []string{"Cookie", cookie, admin.CSRFHeader, "AAAA"}},
		{"API from another site", "PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"5s"}`, []string{"Cookie", cookie, admin.CSRFHeader, csrf, "Sec-Fetch-Site", "cross-site"}},
		{"API purge without token", "POST", "/_tessera/api/purge?fragment=weather", "", []string{"Cookie", cookie}},
		{"another session's token", "PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"5s"}`, []string{"Cookie", func() string { _, c := s.signIn(); return c }(), admin.CSRFHeader, csrf}},
	}
	for _, tt := range refused {
		if resp, body := s.do(tt.method, tt.path, tt.body, tt.hdr...); resp.StatusCode != 403 {
			t.Errorf("%s: %d; want 403\n%.300s", tt.name, resp.StatusCode, body)
		}
	}
	if tun := s.comp.Tuning(); len(tun.Overrides) != 0 || len(tun.Generations) != 0 {
		t.Fatalf("a refused write changed the tuning: %+v", tun)
	}

	// The form without script: only the changed field becomes an override.
	resp, _ := s.do("POST", "/_tessera/fragments/weather/ttl", "ttl=5s&swr=1m0s&sie=&csrf="+url.QueryEscape(csrf), "Cookie", cookie, form, formType, "Origin", s.base)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/_tessera/?saved=weather#frag-weather" {
		t.Fatalf("form: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	o := s.comp.Tuning().Overrides["weather"]
	if o.TTL == nil || *o.TTL != 5*time.Second || o.SWR != nil || o.SIE != nil {
		t.Errorf("override after the form: %+v", o)
	}
	_, body := s.do("GET", "/_tessera/?saved=weather", "", "Cookie", cookie)
	if note := parse(t, body).Find(`[data-testid="note"]`).Text(); !strings.Contains(note, "weather: saved") {
		t.Errorf("note %q", note)
	}
	// A bad value is shown, not applied.
	resp, body = s.do("POST", "/_tessera/fragments/weather/ttl", "ttl=3+seconds&csrf="+url.QueryEscape(csrf), "Cookie", cookie, form, formType)
	if note := parse(t, body).Find(`[data-testid="note"]`).Text(); resp.StatusCode != 400 || !strings.Contains(note, "not a duration") {
		t.Errorf("bad value: %d, note %q", resp.StatusCode, note)
	}
	// Reset through the form.
	if resp, _ := s.do("POST", "/_tessera/fragments/weather/ttl", "action=reset&csrf="+url.QueryEscape(csrf), "Cookie", cookie, form, formType); resp.StatusCode != 303 {
		t.Errorf("reset: %d", resp.StatusCode)
	}
	if _, ok := s.comp.Tuning().Overrides["weather"]; ok {
		t.Error("reset left the override")
	}

	// The API with the session's token, as the page's script sends it.
	resp, body = s.do("PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"45s"}`, "Cookie", cookie, admin.CSRFHeader, csrf, "Origin", s.base, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ttl":"45s"`) {
		t.Errorf("API with the CSRF token: %d %s", resp.StatusCode, body)
	}
	if resp, body := s.do("POST", "/_tessera/api/purge?fragment=weather", "", "Cookie", cookie, admin.CSRFHeader, csrf); resp.StatusCode != 200 {
		t.Errorf("API purge with the CSRF token: %d %s", resp.StatusCode, body)
	}
	// A bearer token needs none: browsers never add it by themselves.
	if resp, body := s.do("POST", "/_tessera/fragments/weather/purge", "", "Authorization", "Bearer "+token, form, formType); resp.StatusCode != 303 {
		t.Errorf("purge form with a bearer token: %d %s", resp.StatusCode, body)
	}
	if g := s.comp.Tuning().Generations["weather"]; g != 2 {
		t.Errorf("generation %d; want 2", g)
	}
}

func TestOverviewRows(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	bearer := []string{"Authorization", "Bearer " + token}
	for _, p := range []string{"/", "/", "/shows"} {
		if resp, body := s.do("GET", p, ""); resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	_, body := s.do("GET", "/_tessera/", "", bearer...)
	doc := parse(t, body)
	type row struct {
		Name, URL, Auth, Pages, Versions, Status, TTL, TTLSource, SWR, Circuit, Assets string
		Primary                                                                        bool
	}
	var got []row
	doc.Find(`[data-testid="fragment-row"]`).Each(func(_ int, r *goquery.Selection) {
		text := func(id string) string {
			return strings.Join(strings.Fields(r.Find(`[data-testid="`+id+`"]`).First().Text()), " ")
		}
		ttl, _ := r.Find(`[data-testid="input-ttl"]`).Attr("value")
		swr, _ := r.Find(`[data-testid="input-swr"]`).Attr("value")
		got = append(got, row{
			Name: text("name"), URL: text("url"), Auth: text("auth"), Pages: text("pages"), Versions: text("versions"),
			Status: r.AttrOr("data-status", ""), TTL: ttl, TTLSource: text("ttl-source"), SWR: swr, Circuit: text("circuit"), Assets: text("assets"),
			Primary: r.Find(".chip-primary").Length() == 1,
		})
	})
	site := s.comp.Site()
	want := []row{
		{Name: "headlines", URL: site.Fragments["headlines"].URL, Auth: "auth none", Pages: "on / /shows", Versions: "1.0.0 ×1", Status: "ok", TTL: "30s", TTLSource: "config", SWR: "", Circuit: "closed", Assets: "stylesheet headlines.1a2b3c4d.css"},
		{Name: "shows", URL: site.Fragments["shows"].URL, Auth: "auth hmac", Pages: "on / /shows", Versions: "1.0.0 ×1", Status: "ok", TTL: "10s", TTLSource: "config", SWR: "", Circuit: "closed", Primary: true},
		{Name: "weather", URL: site.Fragments["weather"].URL, Auth: "auth bearer", Pages: "on /", Versions: "1.0.0 ×1", Status: "ok", TTL: "", TTLSource: "fragment", SWR: "1m", Circuit: "closed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if href := doc.Find(`[data-testid="assets"] a`).AttrOr("href", ""); href != "/_fragments/headlines/assets/headlines.1a2b3c4d.css" {
		t.Errorf("asset link %q", href)
	}
	// A miss, then two hits (/shows asks for the same copy).
	if n := doc.Find(`[data-frag="headlines"] [data-testid="ratio"]`).Text(); n != "66.7%" {
		t.Errorf("headlines hit ratio %q; want 66.7%%", n)
	}

	// The numbers as JSON, for the page's script.
	resp, body := s.do("GET", "/_tessera/stats.json", "", bearer...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stats.json: %d %v", resp.StatusCode, resp.Header)
	}
	var snap dashboard.Snapshot
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Fragments) != 3 || snap.Fragments[0].Cells["ratio"] != "66.7%" || len(snap.Pages) != 2 {
		t.Errorf("snapshot %+v", snap)
	}
	if strings.Contains(body, "env-secret") {
		t.Error("stats.json holds a secret")
	}

	// The pages view: slots in order, with their fragment's health.
	_, body = s.do("GET", "/_tessera/pages", "", bearer...)
	var pages []string
	parse(t, body).Find(`[data-testid="page"]`).Each(func(_ int, p *goquery.Selection) {
		var slots []string
		p.Find(`[data-testid="slot"]`).Each(func(_ int, sl *goquery.Selection) {
			slots = append(slots, sl.AttrOr("data-frag", "")+":"+sl.AttrOr("data-status", "")+":"+sl.Find(`[data-testid="p99"]`).Text())
		})
		pages = append(pages, p.Find(`[data-testid="route"]`).Text()+" "+strings.Join(slots, " "))
	})
	if len(pages) != 2 || !strings.HasPrefix(pages[0], "/ headlines:ok:") || !strings.Contains(pages[0], " shows:ok:") || !strings.HasPrefix(pages[1], "/shows shows:ok:") {
		t.Errorf("pages %q", pages)
	}
}

// TestCues renders made-up counters: a slow, a failing, an open and a
// stray fragment must each be marked.
func TestCues(t *testing.T) {
	t.Parallel()
	cache, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	comp, err := composer.New(composer.Options{Site: site(t), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer comp.Close()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	stats := map[string]composer.FragmentStats{
		// Slow: p99 450ms of a 500ms timeout; and two versions.
		"headlines": {Hits: 90, Misses: 10, Fetches: 10, P50: 20 * time.Millisecond, P99: 450 * time.Millisecond, Versions: map[string]uint64{"1.4.0": 8, "1.5.0-rc.1": 2}, Breaker: "closed"},
		// Failing and open.
		"weather": {Hits: 5, Errors: 5, Fetches: 10, FetchErrors: 6, Timeouts: 2, P50: time.Millisecond, P99: 3 * time.Millisecond,
			Versions: map[string]uint64{"2.1.0": 4}, LastError: "fragment fetch failed: weather: connection refused", LastErrorAt: now.Add(-90 * time.Second), Breaker: "open"},
		"shows": {Hits: 3, Misses: 1, Fetches: 1, P50: 2 * time.Millisecond, P99: 2 * time.Millisecond, Versions: map[string]uint64{"1.2.0": 1}, Breaker: "closed"},
	}
	h, err := dashboard.NewWithStats(dashboard.Options{Composer: comp, Settings: settings.NewMemory(settings.Options{}), Sessions: admin.NewSessions("", admin.SessionOptions{})},
		func(name string) composer.FragmentStats { return stats[name] }, now)
	if err != nil {
		t.Fatal(err)
	}
	var rc fasthttp.RequestCtx
	rc.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, nil)
	rc.Request.SetRequestURI("/_tessera/")
	rc.Request.Header.SetHost("localhost")
	h(&rc)
	if rc.Response.StatusCode() != 200 {
		t.Fatalf("overview: %d\n%s", rc.Response.StatusCode(), rc.Response.Body())
	}
	doc := parse(t, string(rc.Response.Body()))
	row := func(name string) *goquery.Selection { return doc.Find(`[data-frag="` + name + `"]`) }
	for _, tt := range []struct {
		name, status, cues string
		cells              map[string]string
	}{
		{"headlines", "degraded", "slow stray", map[string]string{"p99": "450 ms", "p50": "20 ms", "ratio": "90.0%", "status": "degraded", "errors": "0%"}},
		{"weather", "open", "failing open", map[string]string{"errors": "60.0%", "timeouts": "20.0%", "circuit": "open", "status": "circuit open", "lasterrat": "1m ago · 11:58:30"}},
		{"shows", "ok", "", map[string]string{"ratio": "75.0%", "status": "ok", "lasterror": "none"}},
	} {
		r := row(tt.name)
		if got := r.AttrOr("data-status", ""); got != tt.status {
			t.Errorf("%s status %q; want %q", tt.name, got, tt.status)
		}
		if got := r.AttrOr("data-cues", ""); got != tt.cues {
			t.Errorf("%s cues %q; want %q", tt.name, got, tt.cues)
		}
		for cell, want := range tt.cells {
			if got := r.Find(`[data-cell="` + cell + `"]`).Text(); got != want {
				t.Errorf("%s %s %q; want %q", tt.name, cell, got, want)
			}
		}
	}
	if got := row("weather").Find(`[data-testid="lasterror"]`).Text(); got != "fragment fetch failed: weather: connection refused" {
		t.Errorf("weather last error %q", got)
	}
	var vs []string
	row("headlines").Find(`[data-testid="version"]`).Each(func(_ int, v *goquery.Selection) {
		vs = append(vs, strings.Join(strings.Fields(v.Text()), " ")+map[bool]string{true: " (stray)"}[v.HasClass("stray")])
	})
	if diff := cmp.Diff([]string{"1.4.0 ×8", "1.5.0-rc.1 ×2 (stray)"}, vs); diff != "" {
		t.Errorf("headlines versions (-want +got):\n%s", diff)
	}
	for cell, want := range map[string]string{"fragments": "3", "degraded": "1", "open": "1", "stray": "1"} {
		if got := doc.Find(`[data-testid="summary"] [data-cell="` + cell + `"]`).Text(); got != want {
			t.Errorf("summary %s %q; want %q", cell, got, want)
		}
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	_, body := s.do("GET", "/_tessera/login", "")
	doc := parse(t, body)
	var urls []string
	doc.Find(`link[rel="stylesheet"], link[rel="icon"], img`).Each(func(_ int, l *goquery.Selection) {
		urls = append(urls, l.AttrOr("href", l.AttrOr("src", "")))
	})
	if len(urls) != 4 {
		t.Fatalf("assets on the sign-in page: %q", urls)
	}
	for _, u := range urls {
		resp, body := s.do("GET", u, "")
		if resp.StatusCode != 200 || body == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, %q", u, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if resp, _ := s.do("GET", "/_tessera/static/dashboard.js", ""); resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("script type %q", resp.Header.Get("Content-Type"))
	}
	if resp, _ := s.do("GET", "/_tessera/static/../admin.go", ""); resp.StatusCode != 404 {
		t.Errorf("path outside the assets: %d", resp.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/_tessera/pages":         "/_tessera/pages",
		"/_tessera/":              "/_tessera/",
		"":                        "/_tessera/",
		"//evil.example/":         "/_tessera/",
		"https://evil.example":    "/_tessera/",
		"/_tessera/pages/../../x": "/_tessera/",
		"/\\evil.example":         "/_tessera/",
	} {
		if got := dashboard.SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestMountSharesSessionsWithTheAPI(t *testing.T) {
	t.Parallel()
	cache, _ := memcache.New(0)
	defer cache.Close()
	comp, _ := composer.New(composer.Options{Site: site(t), Cache: cache})
	defer comp.Close()
	o := dashboard.Mount(admin.Options{Composer: comp, Settings: settings.NewMemory(settings.Options{}), Token: token})
	if o.Next == nil || o.Sessions == nil || !o.Sessions.TokenRequired() {
		t.Fatalf("Mount: %+v", o)
	}
	if _, err := admin.New(admin.Options{Composer: comp, Settings: settings.NewMemory(settings.Options{}), Token: "other", Sessions: o.Sessions}); err == nil {
		t.Error("admin.New took sessions made for another token")
	}
	if _, err := dashboard.New(dashboard.Options{Composer: comp}); err == nil {
		t.Error("New without settings or sessions succeeded")
	}
}
