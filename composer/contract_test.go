package composer_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// contractLayout holds a twice, so its assets must still be placed once.
const contractLayout = `<!doctype html><html><head><title>T · Site</title><link rel="icon" href="data:,"></head><body>
<header>HEAD</header>
<main><!--@slot:a--><!--@slot:a view=y--><!--@slot:b--><!--@slot:c--></main>
<footer>FOOT</footer></body></html>`

const (
	aCSS = "/assets/a.1a2b3c4d.css"
	bJS  = "/assets/b.77e0d1aa.js"
)

func newContractEnv(t *testing.T, fragYAML map[string]string, mutate ...func(string) string) *env {
	e := newEnvLayout(t, contractLayout, fragYAML, mutate...)
	e.a.AddHeader("Link", "<"+aCSS+">; rel=stylesheet")
	e.a.ServeFile(aCSS, "text/css; charset=utf-8", "[data-fragment=a]{color:red}")
	e.b.AddHeader("Link", "<"+bJS+">; rel=script")
	e.b.ServeFile(bJS, "text/javascript", "console.log(1)")
	return e
}

// getReleasing is get, releasing f once the response's headers are in.
func (e *env) getReleasing(path string, f interface{ Release() }, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	return e.getThen(path, f.Release, hdr...)
}

// getHeader is the values of a response header of a GET of path.
func (e *env) getHeader(path, name string) []string {
	resp, _ := e.get(path)
	return resp.Header.Values(name)
}

func count(s, sub string) int { return strings.Count(s, sub) }

// TestAssetsPlacedOncePerPage: a stylesheet declared by three slots is
// linked once, in the head once the answers are known before it is sent,
// else just before the first slot; a script goes once after its slot.
func TestAssetsPlacedOncePerPage(t *testing.T) {
	e := newContractEnv(t, nil)
	link := `<link rel="stylesheet" href="/_fragments/a` + aCSS + `">`
	script := `<script type="module" src="/_fragments/b` + bJS + `"></script>`
	for i, where := range []string{"before the slot", "in the head"} {
		if i == 0 {
			e.a.Hold() // not in when the head leaves
		}
		resp, body := e.getReleasing("/", e.a, "User-Agent", "Googlebot")
		if resp.StatusCode != 200 {
			t.Fatalf("page %d: status %d", i, resp.StatusCode)
		}
		if n := count(body, link); n != 1 {
			t.Fatalf("page %d: stylesheet linked %d times, want once:\n%s", i, n, body)
		}
		if n := count(body, script); n != 1 {
			t.Fatalf("page %d: script placed %d times, want once:\n%s", i, n, body)
		}
		head := body[:strings.Index(body, "</head>")]
		if inHead := strings.Contains(head, link); inHead != (where == "in the head") {
			t.Errorf("page %d: stylesheet in head = %v, want %s:\n%s", i, inHead, where, body)
		}
		if strings.Index(body, link) > strings.Index(body, `data-fragment="a"`) {
			t.Errorf("page %d: stylesheet after the slot that uses it", i)
		}
		if strings.Index(body, script) < strings.Index(body, `data-fragment="b"`) {
			t.Errorf("page %d: script before its slot", i)
		}
		e.waitCached(4)
	}
}

// TestAssetRoute: the composer serves a declared asset, immutable, fetched
// from the fragment service once; anything not declared is a 404.
func TestAssetRoute(t *testing.T) {
	e := newContractEnv(t, nil)
	e.a.ServeFile("/admin", "text/css", "secret")
	if resp, _ := e.get(AssetURL("a", aCSS)); resp.StatusCode != 404 {
		t.Fatalf("asset before any answer declared it: %d, want 404", resp.StatusCode)
	}
	e.get("/")
	for range 3 {
		resp, body := e.get(AssetURL("a", aCSS))
		if resp.StatusCode != 200 || body != "[data-fragment=a]{color:red}" {
			t.Fatalf("asset: %d %q", resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("Cache-Control %q", cc)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("Content-Type %q", ct)
		}
	}
	if n := e.a.FileCalls(aCSS); n != 1 {
		t.Errorf("asset fetched %d times from its service, want once", n)
	}
	for _, p := range []string{"/_fragments/a/admin", "/_fragments/a/assets/../admin", "/_fragments/nope" + aCSS, "/_fragments/b" + aCSS, "/_fragments/a"} {
		if resp, _ := e.get(p); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if n := e.a.FileCalls("/admin"); n != 0 {
		t.Errorf("an undeclared path reached the fragment service %d times", n)
	}
}

// TestFailedAssetNotRefetchedAtOnce: a declared asset its service fails
// to serve (here with the wrong type) is a 404, and the requests for it
// in the next seconds do not each reach the service.
func TestFailedAssetNotRefetchedAtOnce(t *testing.T) {
	e := newContractEnv(t, nil)
	e.a.ServeFile(aCSS, "text/html", "<p>not a stylesheet</p>")
	e.get("/")
	for range 5 {
		if resp, _ := e.get(AssetURL("a", aCSS)); resp.StatusCode != 404 {
			t.Fatalf("failed asset: %d, want 404", resp.StatusCode)
		}
	}
	if n := e.a.FileCalls(aCSS); n != 1 {
		t.Errorf("a failing asset was asked of its service %d times, want once", n)
	}
}

func AssetURL(name, path string) string { return "/_fragments/" + name + path }

// TestPrimaryNotFound: a primary's 404 is the page's, with the chrome and
// its markup; a non-primary's 404 only degrades its slot.
func TestPrimaryNotFound(t *testing.T) {
	e := newContractEnv(t, map[string]string{"a": "primary: true"})
	e.a.SetCacheControl("no-store")
	e.a.SetStatus(404)
	e.a.SetBody(`<section data-fragment="a">Story not found</section>`)
	resp, body := e.get("/")
	if resp.StatusCode != 404 || !strings.Contains(body, "Story not found") || !strings.Contains(body, "HEAD") || !strings.Contains(body, "FOOT") {
		t.Fatalf("primary 404: status %d, body:\n%s", resp.StatusCode, body)
	}
	e.a.SetStatus(410)
	if resp, _ := e.get("/"); resp.StatusCode != 410 {
		t.Errorf("primary 410: page %d", resp.StatusCode)
	}

	e2 := newContractEnv(t, map[string]string{"b": `fallback: '<p>b is away</p>'`})
	e2.b.SetStatus(404)
	resp, body = e2.get("/", "User-Agent", "Googlebot")
	if resp.StatusCode != 200 || !strings.Contains(body, "b is away") {
		t.Errorf("non-primary 404: status %d, want 200 with b's fallback:\n%s", resp.StatusCode, body)
	}
}

// TestPrimaryRedirect: a primary's redirect is the page's when it stays on
// the site or goes to a configured host; anything else is refused.
func TestPrimaryRedirect(t *testing.T) {
	// Every page asks for a city of its own, which a and b vary by: no
	// page joins a fetch still in flight for the one before, whose
	// answer was another.
	e := newContractEnv(t, map[string]string{"a": "primary: true\nvary: [city]", "b": "fallback: '<p>b is away</p>'\nvary: [city]"},
		func(s string) string { return "redirect_hosts: [shop.example.com]\n" + s })
	e.a.SetCacheControl("no-store")
	e.b.SetCacheControl("no-store")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := 0
	get := func() *http.Response {
		page++
		resp, err := noFollow.Get(e.base + "/?city=c" + strconv.Itoa(page))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tt := range []struct {
		code     int
		location string
		want     int
	}{
		{301, "/news/new-slug", 301},
		{302, "/x?y=1", 302},
		{303, "/", 303},
		{307, "https://shop.example.com/basket", 307},
		{308, "/moved", 308},
		{301, "//evil.example", 502},
		{301, `/\evil.example`, 502},
		{301, `\\evil.example`, 502},
		{301, "https://evil.example/", 502},
		{301, "javascript:alert(1)", 502},
		{301, "https://shop.example.com@evil.example/", 502},
		{301, "", 502},
	} {
		e.a.SetStatus(tt.code)
		e.a.ClearHeaders()
		if tt.location != "" {
			e.a.AddHeader("Location", tt.location)
		}
		resp := get()
		if resp.StatusCode != tt.want {
			t.Errorf("%d to %q: page %d, want %d", tt.code, tt.location, resp.StatusCode, tt.want)
			continue
		}
		if loc := resp.Header.Get("Location"); tt.want < 500 && loc != tt.location || tt.want >= 500 && loc != "" {
			t.Errorf("%d to %q: Location %q", tt.code, tt.location, loc)
		}
	}
	e.a.SetStatus(200)
	e.a.ClearHeaders()
	e.b.SetStatus(301)
	e.b.AddHeader("Location", "/elsewhere")
	if resp := get(); resp.StatusCode != 200 {
		t.Errorf("non-primary redirect: page %d, want 200\n%s", resp.StatusCode, e.logs.String())
	}
}

// TestPrimaryHead: a primary sets the title, description, canonical and
// robots, escaped; what does not fit the rules, and any non-primary's
// head, is dropped.
func TestPrimaryHead(t *testing.T) {
	e := newContractEnv(t, map[string]string{"a": "primary: true"})
	e.a.AddHeader("X-Fragment-Title", "Night%20trains%20%3Cb%3E%26%20more")
	e.a.AddHeader("X-Fragment-Description", "A%20%22quoted%22%20standfirst")
	e.a.AddHeader("X-Fragment-Canonical", "/news/night-trains")
	e.a.AddHeader("X-Fragment-Robots", "noindex")
	e.b.AddHeader("X-Fragment-Title", "Not%20me")
	e.b.AddHeader("X-Fragment-Description", "Nor%20me")
	_, body := e.get("/")
	head := body[:strings.Index(body, "</head>")]
	for _, want := range []string{
		"<title>Night trains &lt;b&gt;&amp; more · Site</title>",
		`<meta name="description" content="A &#34;quoted&#34; standfirst">`,
		`<link rel="canonical" href="/news/night-trains">`,
		`<meta name="robots" content="noindex">`,
	} {
		if !strings.Contains(head, want) {
			t.Errorf("head lacks %s:\n%s", want, head)
		}
	}
	if strings.Contains(body, "Not me") || strings.Contains(body, "Nor me") || count(head, "<title>") != 1 {
		t.Errorf("a non-primary's head reached the page:\n%s", head)
	}

	e2 := newContractEnv(t, map[string]string{"a": "primary: true"})
	e2.a.AddHeader("X-Fragment-Canonical", "https%3A%2F%2Fevil.example%2F")
	e2.a.AddHeader("X-Fragment-Robots", "%22%3E%3Cscript%3E")
	e2.a.AddHeader("X-Fragment-Title", "%0d%0aSet-Cookie")
	_, body = e2.get("/")
	if head := body[:strings.Index(body, "</head>")]; strings.Contains(head, "canonical") || strings.Contains(head, "robots") || !strings.Contains(head, "<title>T · Site</title>") {
		t.Errorf("hostile head values reached the page:\n%s", head)
	}

	e3 := newContractEnv(t, nil) // no primary at all
	e3.b.AddHeader("X-Fragment-Title", "Not%20me")
	e3.get("/")
	e3.waitCached(4)
	if _, body := e3.get("/"); !strings.Contains(body, "<title>T · Site</title>") {
		t.Errorf("a non-primary set the title:\n%s", body)
	}
}

// TestSetCookieOnlyFromAllowedPrimaries: a primary with set_cookies passes
// its cookie on and makes the page private; a fragment without it, or one
// not primary, does not.
func TestSetCookieOnlyFromAllowedPrimaries(t *testing.T) {
	e := newContractEnv(t, map[string]string{"a": "primary: true\nset_cookies: true", "b": "primary: true", "c": "set_cookies: true"})
	e.a.SetCookie("consent=yes; Path=/")
	e.b.SetCookie("tracker=1; Path=/")
	e.c.SetCookie("other=1; Path=/")
	resp, _ := e.get("/")
	got := resp.Header.Values("Set-Cookie")
	if len(got) != 1 || got[0] != "consent=yes; Path=/" {
		t.Errorf("Set-Cookie %q, want only a's", got)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("Cache-Control %q, want private", cc)
	}
}

// TestPageCachingHeaders: a page is private when a fragment on it answered
// private, and it varies by what its fragments read.
func TestPageCachingHeaders(t *testing.T) {
	e := newContractEnv(t, map[string]string{"c": "vary: [city]"})
	resp, _ := e.get("/")
	if cc := resp.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("page whose fragments never answered yet: Cache-Control %q, want private", cc)
	}
	resp, _ = e.get("/")
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("shared page: Cache-Control %q", cc)
	}
	if v := resp.Header.Get("Vary"); v != "Accept-Encoding, Cookie" {
		t.Errorf("Vary %q, want Accept-Encoding, Cookie (city is read from a cookie)", v)
	}

	e2 := newContractEnv(t, nil)
	e2.b.SetCacheControl("private, max-age=60")
	for range 2 { // the second page knows b's last answer was private before it is in
		resp, _ = e2.get("/")
		if cc := resp.Header.Get("Cache-Control"); cc != "private, no-cache" {
			t.Errorf("page with a private fragment: Cache-Control %q", cc)
		}
	}
}

// TestEarlyHints: once a page's fragments declared assets, the next page
// request reads a 103 with their preloads before the 200, which carries the
// same Link values.
func TestEarlyHints(t *testing.T) {
	e := newContractEnv(t, nil)
	e.get("/")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(bufio.NewReader(conn))
	resp := string(raw)
	if !strings.HasPrefix(resp, "HTTP/1.1 103 Early Hints\r\n") {
		t.Fatalf("the answer does not start with a 103:\n%.400s", resp)
	}
	hints, rest, _ := strings.Cut(resp, "\r\n\r\n")
	if !strings.HasPrefix(rest, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("no 200 after the 103:\n%.400s", rest)
	}
	for _, want := range []string{
		"Link: </_fragments/a" + aCSS + ">; rel=preload; as=style",
		"Link: </_fragments/b" + bJS + ">; rel=modulepreload",
	} {
		if !strings.Contains(hints, want) || !strings.Contains(rest[:strings.Index(rest, "\r\n\r\n")], want) {
			t.Errorf("%q missing from the 103 or the 200:\n%s\n---\n%.600s", want, hints, rest)
		}
	}
	if n := count(hints, "Link:"); n != 2 {
		t.Errorf("103 has %d Link values, want 2 (a's stylesheet once)", n)
	}

	// A redirect declares no assets: it does not make the composer forget
	// the ones of the fragment's answers with markup.
	e2 := newContractEnv(t, map[string]string{"a": "ttl: 0s"})
	e2.get("/")
	e2.a.SetStatus(301)
	e2.a.ClearHeaders()
	e2.a.AddHeader("Location", "/elsewhere")
	e2.get("/")
	e2.a.SetStatus(200)
	e2.a.ClearHeaders()
	e2.a.AddHeader("Link", "<"+aCSS+">; rel=stylesheet")
	if links := strings.Join(e2.getHeader("/", "Link"), ", "); !strings.Contains(links, "/_fragments/a"+aCSS) {
		t.Errorf("after a redirect, the page's Link lost a's stylesheet: %q", links)
	}

	// Through a proxy (many take a 103 for the answer), none by default.
	for _, via := range []string{"X-Forwarded-For: 10.0.0.1", "Via: 1.1 lb", "Forwarded: for=10.0.0.1"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n", via)
		raw, _ := io.ReadAll(bufio.NewReader(conn))
		conn.Close()
		if !strings.HasPrefix(string(raw), "HTTP/1.1 200 OK\r\n") {
			t.Errorf("with %s: the answer starts %.60q, want the 200", via, raw)
		}
	}
}

// TestHostileLinks: a thousand Link values, javascript: URLs and other
// hosts are bounded and refused; the markup is still used.
func TestHostileLinks(t *testing.T) {
	e := newEnvLayout(t, contractLayout, nil)
	for i := range 1000 {
		e.a.AddHeader("Link", fmt.Sprintf("</assets/a%d.css>; rel=stylesheet", i))
	}
	e.b.AddHeader("Link", `<javascript:alert(1)>; rel=script, <https://evil.example/x.css>; rel=stylesheet, <//evil.example/y.js>; rel=script, </assets/../../etc/passwd>; rel=stylesheet`)
	for i := range 40 {
		e.c.AddHeader("Link", fmt.Sprintf("</assets/c%d.css>; rel=stylesheet", i))
	}
	resp, body := e.get("/", "User-Agent", "Googlebot")
	if resp.StatusCode != 200 || !strings.Contains(body, "B1") || !strings.Contains(body, "C1") {
		t.Fatalf("page %d:\n%s\n%s", resp.StatusCode, body, e.logs.String())
	}
	if !strings.Contains(body, `data-fragment-empty="a"`) || !strings.Contains(e.logs.String(), "a: response headers over 8192 bytes") {
		t.Errorf("a's thousand Link values did not leave its slot empty with a clear error:\n%s", e.logs.String())
	}
	if n := len(regexp.MustCompile(`rel="stylesheet"`).FindAllString(body, -1)); n != 16 {
		t.Errorf("%d stylesheets placed, want c's first 16", n)
	}
	if strings.Contains(body, "evil.example") || strings.Contains(body, "javascript:") || strings.Contains(body, "passwd") {
		t.Errorf("a refused asset reached the page:\n%s", body)
	}
	if got := e.metric(`tessera_fragment_assets_refused_total{fragment="b"}`); got != "4" {
		t.Errorf("b refused %s, want 4", got)
	}
	if got := e.metric(`tessera_fragment_assets_refused_total{fragment="c"}`); got != "24" {
		t.Errorf("c refused %s, want 24", got)
	}
	if n := count(e.logs.String(), "fragment assets refused"); n != 2 {
		t.Errorf("%d log lines for refused assets, want one per answer (2):\n%s", n, e.logs.String())
	}
}

// TestCSPNonce: with a policy configured, each page gets a nonce of its
// own, in the header and on every script the composer writes.
func TestCSPNonce(t *testing.T) {
	e := newContractEnv(t, nil, func(s string) string {
		return "csp: \"script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'\"\n" + s
	})
	e.b.Hold() // b arrives after its place: its patch has inline scripts
	resp, body := e.getReleasing("/", e.b)
	policy := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`^script-src 'nonce-([A-Z2-7]{26})'; style-src 'self' 'nonce-([A-Z2-7]{26})'$`).FindStringSubmatch(policy)
	if m == nil || m[1] != m[2] {
		t.Fatalf("Content-Security-Policy %q", policy)
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1)
	if len(scripts) < 3 {
		t.Fatalf("want the module script and the patch scripts, got %q:\n%s", scripts, body)
	}
	for _, s := range scripts {
		if !strings.Contains(s, `nonce="`+m[1]+`"`) {
			t.Errorf("script without the page's nonce: %s", s)
		}
	}
	resp2, _ := e.get("/")
	if resp2.Header.Get("Content-Security-Policy") == policy {
		t.Error("two pages share a nonce")
	}
}

// TestNestedAssetsKeepTheirFragment: the assets of a slot nested in
// another are linked under their own fragment, once.
func TestNestedAssetsKeepTheirFragment(t *testing.T) {
	e := newContractEnv(t, map[string]string{"a": "nest: [b]"})
	e.a.SetBody(`<section data-fragment="a"><!--@slot:b--></section>`)
	_, body := e.get("/", "User-Agent", "Googlebot")
	want := `<script type="module" src="/_fragments/b` + bJS + `"></script>`
	if n := count(body, want); n != 1 || strings.Contains(body, "/_fragments/a"+bJS) {
		t.Errorf("b's script placed %d times under b (want once), or under a:\n%s", n, body)
	}
}

// TestAssetsURL: with assets_url set, pages and early hints link the
// fragment's assets there.
func TestAssetsURL(t *testing.T) {
	e := newContractEnv(t, map[string]string{"a": "assets_url: https://cdn.example.com/a/"})
	_, body := e.get("/", "User-Agent", "Googlebot")
	if want := `<link rel="stylesheet" href="https://cdn.example.com/a` + aCSS + `">`; count(body, want) != 1 || strings.Contains(body, "/_fragments/a/") {
		t.Errorf("page does not link a's stylesheet at its assets_url once:\n%s", body)
	}
	resp, _ := e.get("/")
	if links := strings.Join(resp.Header.Values("Link"), ", "); !strings.Contains(links, "<https://cdn.example.com/a"+aCSS+">; rel=preload; as=style") {
		t.Errorf("Link %q", links)
	}
}
