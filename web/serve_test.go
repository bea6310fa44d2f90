package web_test

// These tests serve web.Static through the composer's handler, as the
// composer does.

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/web"
)

// staticServer serves the site's assets the way the composer does, over
// an in-memory listener.
func staticServer(t *testing.T) *fasthttp.Client {
	t.Helper()
	f := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	site := composertest.Site(t, "fragments:\n  a: {url: "+f.URL+"}\npages:\n  - {path: /, title: T, layout: p.html}\n", map[string]string{"p.html": "<!--@slot:a-->"})
	cache, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := composer.New(composer.Options{Site: site, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	srv := front.NewServer(front.Handler(front.Options{Composer: comp, Static: web.Static}), nil)
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close()
		<-done
		_ = comp.Close()
		_ = cache.Close()
	})
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

func getStatic(t *testing.T, c *fasthttp.Client, path string, hdr ...string) *fasthttp.Response {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), &fasthttp.Response{}
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://tessera.test" + path)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

func TestStaticDirectoryIsNotFound(t *testing.T) {
	t.Parallel()
	c := staticServer(t)
	for _, path := range []string{"/static/", "/static/css/", "/static/css", "/static//img/"} {
		for _, enc := range []string{"", "gzip", "br"} {
			resp := getStatic(t, c, path, "Accept-Encoding", enc)
			body, _ := resp.BodyUncompressed()
			if resp.StatusCode() != 404 || !strings.HasPrefix(string(resp.Header.ContentType()), "text/html") || !strings.Contains(string(body), "There is no such file") {
				t.Errorf("GET %s (Accept-Encoding %q): %d %s\n%.200s", path, enc, resp.StatusCode(), resp.Header.ContentType(), body)
			}
		}
	}
}

func TestStaticFileLastModifiedIsTheBuild(t *testing.T) {
	t.Parallel()
	c := staticServer(t)
	resp := getStatic(t, c, "/static/css/site.css")
	lm, err := fasthttp.ParseHTTPDate(resp.Header.Peek(fasthttp.HeaderLastModified))
	if resp.StatusCode() != 200 || err != nil || !lm.Equal(web.BuildTime) {
		t.Fatalf("site.css: %d, Last-Modified %q; want 200 and the build time %v", resp.StatusCode(), resp.Header.Peek(fasthttp.HeaderLastModified), web.BuildTime)
	}
	// A copy from before this build is not fresh.
	old := fasthttp.AppendHTTPDate(nil, web.BuildTime.Add(-time.Hour))
	if resp := getStatic(t, c, "/static/css/site.css", "If-Modified-Since", string(old)); resp.StatusCode() != 200 {
		t.Errorf("If-Modified-Since an hour before the build: %d; want 200", resp.StatusCode())
	}
	if resp := getStatic(t, c, "/static/css/site.css", "If-Modified-Since", string(resp.Header.Peek(fasthttp.HeaderLastModified))); resp.StatusCode() != 304 {
		t.Errorf("If-Modified-Since the build: %d; want 304", resp.StatusCode())
	}
}
