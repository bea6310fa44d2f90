package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/internal/browsertest"
)

const dashToken = "dashboard-test-token"

// canaryProxy stands between the composer and a fragment service: every
// third answer is marked as a canary version and held back, as a slow new
// release beside the old one would be. Its target is set once the service
// has started.
type canaryProxy struct {
	URL    string
	target atomic.Pointer[url.URL]
	n      atomic.Int64
}

func startCanaryProxy(t *testing.T, delay time.Duration) *canaryProxy {
	t.Helper()
	p := &canaryProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := p.target.Load()
		if target == nil {
			http.Error(w, "no target yet", http.StatusServiceUnavailable)
			return
		}
		canary := p.n.Add(1)%3 == 0
		if canary {
			time.Sleep(delay)
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target.ResolveReference(&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		if canary {
			w.Header().Set("X-Fragment-Version", "1.5.0")
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/"
	return p
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func do(t *testing.T, method, u, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func apiRows(t *testing.T, base string) map[string]admin.Fragment {
	t.Helper()
	resp, body := do(t, "GET", base+"/_tessera/api/fragments", "", "Authorization", "Bearer "+dashToken)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /_tessera/api/fragments: %d %s", resp.StatusCode, body)
	}
	var rows []admin.Fragment
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	m := map[string]admin.Fragment{}
	for _, r := range rows {
		m[r.Name] = r
	}
	return m
}

// TestDashboardInBrowser signs in to the dashboard, watches its numbers
// change as pages are served, changes a TTL through it, and sees an outage
// and a stray version flagged.
func TestDashboardInBrowser(t *testing.T) {
	canary := startCanaryProxy(t, 660*time.Millisecond)
	site := testSite(t, map[string]string{"TESSERA_ADMIN_TOKEN": dashToken, "TESSERA_FRAGMENT_HEADLINES_URL": canary.URL})
	target, _ := url.Parse(site.Fragments.URL("headlines"))
	canary.target.Store(target)
	base := "http://" + site.Composer.DisplayAddr()
	get := func(path string) {
		t.Helper()
		if resp, body := do(t, "GET", base+path, ""); resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/", "/shows", "/weather?city=tokyo"} {
		get(p)
	}

	b := browsertest.New(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 90*time.Second)
	defer cancel()
	evalString := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	cellText := func(frag, cell string) string {
		return evalString(`(document.querySelector('[data-frag="` + frag + `"] [data-cell="` + cell + `"]') || {}).textContent || ""`)
	}
	waitUntil := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%s): %v", what, js, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Signing in: the dashboard sends a browser without a session to the
	// sign-in form, and back once the token is given.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/_tessera/"), chromedp.WaitVisible(`[data-testid="login"]`)); err != nil {
		t.Fatalf("load dashboard: %v", err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/_tessera/login") {
		t.Errorf("without a session the dashboard is at %s; want the sign-in page", loc)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`[data-testid="token"]`, dashToken),
		chromedp.Click(`[data-testid="sign-in"]`),
		chromedp.WaitVisible(`[data-testid="fragments"]`),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	names := evalString(`[...document.querySelectorAll('[data-testid="fragment-row"]')].map(r => r.dataset.frag).join(",")`)
	for _, name := range []string{"headlines", "shows", "weather"} {
		if !strings.Contains(","+names+",", ","+name+",") {
			t.Fatalf("dashboard rows %q lack %s", names, name)
		}
	}
	for _, name := range []string{"headlines", "shows", "weather"} {
		if got := cellText(name, "ratio"); got == "" || got == "–" {
			t.Errorf("%s hit ratio %q after traffic", name, got)
		}
		if got := cellText(name, "p50"); !strings.HasSuffix(got, "ms") && !strings.HasSuffix(got, " s") {
			t.Errorf("%s p50 %q", name, got)
		}
	}
	if got := evalString(`document.querySelector('[data-frag="weather"] [data-testid="auth"]').textContent`); got != "auth bearer" {
		t.Errorf("weather auth cell %q", got)
	}

	// Live numbers: more pages, new numbers, same document.
	evalString(`window.tesseraMarker = "same page"; ""`)
	before := cellText("headlines", "served")
	for range 3 {
		get("/")
	}
	waitUntil("the headlines counters to change", `document.querySelector('[data-frag="headlines"] [data-cell="served"]').textContent !== `+jsString(before))
	if got := evalString(`window.tesseraMarker || "reloaded"`); got != "same page" {
		t.Errorf("the page was reloaded to show new numbers")
	}

	// Editing a TTL on the dashboard changes the TTL the composer uses.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`[data-frag="weather"] input[data-setting="ttl"]`, "45s"),
		chromedp.Click(`[data-frag="weather"] [data-testid="save"]`),
	); err != nil {
		t.Fatalf("edit ttl: %v", err)
	}
	waitUntil("the override to show", `document.querySelector('[data-frag="weather"] [data-cell="ttl-source"]').textContent === "override"`)
	if row := apiRows(t, base)["weather"]; row.TTL != "45s" || row.TTLSource != admin.SourceOverride {
		t.Errorf("API after the edit: ttl %q from %q; want 45s from override", row.TTL, row.TTLSource)
	}
	if o := site.Composer.Tuning().Overrides["weather"]; o.TTL == nil || *o.TTL != 45*time.Second {
		t.Errorf("composer override after the edit: %+v", o)
	}
	if row := apiRows(t, base)["headlines"]; row.TTLSource != admin.SourceConfig {
		t.Errorf("editing weather changed headlines: %+v", row)
	}

	// Trouble: a slow canary of headlines answers beside the old version,
	// and weather goes down until its circuit opens.
	for range 4 {
		if resp, body := do(t, "POST", base+"/_tessera/api/purge?fragment=headlines", "", "Authorization", "Bearer "+dashToken); resp.StatusCode != 200 {
			t.Fatalf("purge: %d %s", resp.StatusCode, body)
		}
		get("/shows")
	}
	site.Fragments.Stop("weather")
	// A city never cached is fetched on every page, and fails, until
	// the failures are most of the window's fetches.
	for i := 0; site.Composer.BreakerState("weather") != "open"; i++ {
		if i == 200 {
			t.Fatal("weather's circuit did not open in 200 pages with weather down")
		}
		get("/?city=mumbai")
	}
	waitUntil("weather's circuit to show open", `document.querySelector('[data-frag="weather"]').dataset.status === "open"`)
	waitUntil("headlines to show a stray version", `document.querySelector('[data-frag="headlines"]').dataset.cues.includes("stray")`)
	if got := cellText("weather", "circuit"); got != "open" {
		t.Errorf("weather circuit cell %q", got)
	}
	if got := cellText("weather", "lasterror"); got == "none" || got == "" {
		t.Errorf("weather last error %q", got)
	}
	if got := evalString(`document.querySelector('[data-summary] [data-cell="open"]').textContent`); got != "1" {
		t.Errorf("summary of open circuits %q; want 1", got)
	}
	if *screenshots {
		// At rest: scrolled to the top, no message, no number mid-highlight.
		evalString(`window.scrollTo(0, 0); document.querySelector('[data-testid="toast"]').hidden = true;
			document.querySelectorAll(".changed").forEach(el => el.classList.remove("changed")); ""`)
		if err := b.Screenshot(filepath.Join("..", "..", "docs", "dashboard.png")); err != nil {
			t.Fatal(err)
		}
	}

	// The pages view: each page's slots in order, with their health.
	get("/?city=oslo")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/_tessera/pages"), chromedp.WaitVisible(`[data-testid="page"]`)); err != nil {
		t.Fatalf("load pages view: %v", err)
	}
	var pages map[string][]string
	if err := json.Unmarshal([]byte(evalString(`JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid="page"]')].map(p =>
		[p.dataset.page, [...p.querySelectorAll('[data-testid="slot"]')].map(s => s.dataset.frag + ":" + s.dataset.status)])))`)), &pages); err != nil {
		t.Fatal(err)
	}
	home := strings.Join(pages["/"], " ")
	if !regexp.MustCompile(`headlines:degraded .*shows:ok .*weather:open`).MatchString(home) {
		t.Errorf("home page's slots %q; want headlines (degraded), shows (ok), weather (circuit open) in that order", home)
	}
	for path, slots := range pages {
		for _, s := range slots {
			if name, status, _ := strings.Cut(s, ":"); (name == "weather" && status != "open") || (name == "shows" && status != "ok") {
				t.Errorf("page %s: slot %s", path, s)
			}
		}
	}

	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("browser reported errors: %q", errs)
	}
}

// TestDashboardRefusesWithoutToken: without the admin token the dashboard
// asks to sign in and the API and the numbers answer 401.
func TestDashboardRefusesWithoutToken(t *testing.T) {
	site := testSite(t, map[string]string{"TESSERA_ADMIN_TOKEN": dashToken})
	base := "http://" + site.Composer.DisplayAddr()

	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/_tessera/", http.StatusSeeOther},
		{"GET", "/_tessera/pages", http.StatusSeeOther},
		{"GET", "/_tessera/stats.json", http.StatusUnauthorized},
		{"GET", "/_tessera/api/fragments", http.StatusUnauthorized},
		{"PUT", "/_tessera/api/fragments/weather/ttl", http.StatusUnauthorized},
		{"POST", "/_tessera/api/purge?fragment=weather", http.StatusUnauthorized},
		{"POST", "/_tessera/fragments/weather/ttl", http.StatusSeeOther},
	} {
		resp, body := do(t, tt.method, base+tt.path, `{"ttl":"1s"}`, "Cookie", admin.SessionCookie+"=4102444800.forged")
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d; want %d\n%.300s", tt.method, tt.path, resp.StatusCode, tt.want, body)
		}
		if tt.want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/_tessera/login") {
			t.Errorf("%s %s redirects to %q; want the sign-in page", tt.method, tt.path, resp.Header.Get("Location"))
		}
	}
	if _, ok := site.Composer.Tuning().Overrides["weather"]; ok {
		t.Error("a refused request changed the tuning")
	}

	// A wrong token is refused; the right one gives a session the API
	// accepts.
	form := url.Values{"token": {"guess"}, "next": {"/_tessera/"}}.Encode()
	formHdr := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", base}
	if resp, body := do(t, "POST", base+"/_tessera/login", form, formHdr...); len(resp.Cookies()) != 0 || !strings.Contains(body, "not the admin token") {
		t.Errorf("sign-in with a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	form = url.Values{"token": {dashToken}, "next": {"/_tessera/"}}.Encode()
	resp, _ := do(t, "POST", base+"/_tessera/login", form, formHdr...)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	cookie := resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	if resp, body := do(t, "GET", base+"/_tessera/api/fragments", "", "Cookie", cookie); resp.StatusCode != 200 {
		t.Errorf("API with the session cookie: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "PUT", base+"/_tessera/api/fragments/weather/ttl", `{"ttl":"1s"}`, "Cookie", cookie, "Origin", base); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Errorf("API write with the cookie but no CSRF token: %d %s", resp.StatusCode, body)
	}

	// In a browser: the sign-in page, and no console errors on the way.
	b := browsertest.New(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/_tessera/pages"), chromedp.WaitVisible(`[data-testid="login"]`)); err != nil {
		t.Fatalf("load: %v", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="fragment-row"], [data-testid="page"]').length`)); err != nil || n != 0 {
		t.Errorf("the sign-in page shows %d rows (%v)", n, err)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("browser reported errors: %q", errs)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
