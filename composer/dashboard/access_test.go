package dashboard_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

// signOut posts the sign-out form with cookie's CSRF token.
func (s *server) signOut(cookie string) {
	s.t.Helper()
	resp, _ := s.do("POST", "/_tessera/logout", "csrf="+url.QueryEscape(s.csrfOf(cookie)), "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 303 {
		s.t.Fatalf("sign-out: %d", resp.StatusCode)
	}
}

// refusesSession checks that a signed-out cookie opens nothing.
func refusesSession(t *testing.T, s *server, cookie, csrf string) {
	t.Helper()
	if resp, _ := s.do("GET", "/_tessera/", "", "Cookie", cookie); resp.StatusCode != 303 {
		t.Errorf("dashboard with a signed-out cookie: %d; want 303 to sign in", resp.StatusCode)
	}
	if resp, _ := s.do("GET", "/_tessera/stats.json", "", "Cookie", cookie); resp.StatusCode != 401 {
		t.Errorf("numbers with a signed-out cookie: %d; want 401", resp.StatusCode)
	}
	if resp, _ := s.do("POST", "/_tessera/api/purge?fragment=weather", "", "Cookie", cookie, admin.CSRFHeader, csrf, "Origin", s.base); resp.StatusCode != 401 {
		t.Errorf("API purge with a signed-out cookie: %d; want 401", resp.StatusCode)
	}
	if g := s.comp.Tuning().Generations["weather"]; g != 0 {
		t.Errorf("a signed-out cookie purged weather (generation %d)", g)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	_, cookie := s.signIn()
	_, other := s.signIn()
	csrf := s.csrfOf(cookie)
	s.signOut(cookie)
	refusesSession(t, s, cookie, csrf)
	if resp, _ := s.do("GET", "/_tessera/", "", "Cookie", other); resp.StatusCode != 200 {
		t.Errorf("another session after one signed out: %d; want 200", resp.StatusCode)
	}
}

// Two composers with the same token on one Redis: a session signed out on
// one is refused by the other.
func TestSignOutReachesEveryComposer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	store := func() *settings.Store {
		rdb, err := redisconn.NewClient(rs.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		return settings.NewRedis(rdb, settings.Options{})
	}
	a := startWith(t, admin.Options{Token: token, Settings: store()})
	b := startWith(t, admin.Options{Token: token, Settings: store()})
	_, cookie := a.signIn()
	csrf := b.csrfOf(cookie) // b accepts a's session
	a.signOut(cookie)
	refusesSession(t, b, cookie, csrf)
	refusesSession(t, a, cookie, csrf)
}

func TestSignInLimited(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	form := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", s.base}
	for i := range admin.DefaultSignInFailures - 1 {
		if resp, _ := s.do("POST", "/_tessera/login", "token=guess", form...); resp.StatusCode != 200 {
			t.Fatalf("wrong token %d: %d; want the form again", i+1, resp.StatusCode)
		}
	}
	for _, tok := range []string{"guess", token} {
		resp, body := s.do("POST", "/_tessera/login", "token="+url.QueryEscape(tok), form...)
		msg := parse(t, body).Find(`[data-testid="login-error"]`).Text()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || len(resp.Cookies()) != 0 || !strings.Contains(msg, "Try again in") {
			t.Errorf("right token %v after %d wrong ones: %d, Retry-After %q, cookies %v, message %q; want 429 and no session",
				tok == token, admin.DefaultSignInFailures, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Cookies(), msg)
		}
	}
}

func TestUnknownHostIsRefused(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", token} {
		s := start(t, tok)
		for _, path := range []string{"/_tessera/", "/_tessera/login", "/_tessera/stats.json", "/_tessera/static/dashboard.js"} {
			resp, body := s.do("GET", path, "", "Host", "evil.example", "Authorization", "Bearer "+token)
			if resp.StatusCode != 403 || !strings.Contains(body, "admin.hosts") {
				t.Errorf("token %v: GET %s for evil.example: %d; want 403 saying what to do\n%.300s", tok != "", path, resp.StatusCode, body)
			}
		}
		// The dashboard's forms, with a CSRF token read from the page.
		var cookie string
		if tok != "" {
			_, cookie = s.signIn()
		}
		csrf := s.csrfOf(cookie)
		resp, _ := s.do("POST", "/_tessera/fragments/weather/purge", "csrf="+url.QueryEscape(csrf), "Host", "evil.example", "Cookie", cookie,
			"Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.example")
		if resp.StatusCode != 403 || s.comp.Tuning().Generations["weather"] != 0 {
			t.Errorf("token %v: purge form for evil.example: %d; want 403 and no purge", tok != "", resp.StatusCode)
		}
	}
}

func TestEveryPageAnswers405WithAllow(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	for _, tt := range []struct{ method, path, allow string }{
		{"POST", "/_tessera/", "GET, HEAD"},
		{"DELETE", "/_tessera/pages", "GET, HEAD"},
		{"OPTIONS", "/_tessera/stats.json", "GET, HEAD"},
		{"PUT", "/_tessera/login", "GET, HEAD, POST"},
		{"GET", "/_tessera/fragments/weather/purge", "POST"},
		{"GET", "/_tessera/fragments/weather/ttl", "POST"},
		{"POST", "/_tessera/static/dashboard.js", "GET, HEAD"},
	} {
		resp, body := s.do(tt.method, tt.path, "", "Authorization", "Bearer "+token)
		allow := strings.Split(resp.Header.Get("Allow"), ", ")
		slices.Sort(allow)
		if resp.StatusCode != 405 || strings.Join(allow, ", ") != tt.allow || parse(t, body).Find(`[data-testid="notice"]`).Length() != 1 {
			t.Errorf("%s %s: %d, Allow %q; want 405 with Allow %q and a page saying so", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
		}
	}
}

// Without Redis a change reaches only this composer, and the notes say so.
func TestSavedNoteSaysWhereItApplies(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	_, body := s.do("GET", "/_tessera/?saved=weather", "", "Authorization", "Bearer "+token)
	doc := parse(t, body)
	note := doc.Find(`[data-testid="note"]`).Text()
	applies, _ := doc.Find("body").Attr("data-applies")
	for _, got := range []string{note, applies} {
		if strings.Contains(got, "every composer") || !strings.Contains(got, "this composer") {
			t.Errorf("without Redis the dashboard says %q", got)
		}
	}
}

func TestIdleFragmentCircuitIsClosed(t *testing.T) {
	t.Parallel()
	s := start(t, token)
	_, body := s.do("GET", "/_tessera/", "", "Authorization", "Bearer "+token)
	doc := parse(t, body)
	rows := doc.Find(`[data-testid="fragment-row"]`)
	if rows.Length() == 0 {
		t.Fatal("no rows")
	}
	rows.Each(func(_ int, r *goquery.Selection) {
		name, _ := r.Attr("data-frag")
		if st, _ := r.Attr("data-status"); st != "idle" {
			t.Errorf("%s: status %q before any page; want idle", name, st)
		}
		if c := r.Find(`[data-testid="circuit"]`).Text(); c != "closed" {
			t.Errorf("%s: circuit %q before any page; want closed", name, c)
		}
	})
}
