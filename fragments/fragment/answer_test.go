package fragment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"
)

func TestNotFoundAndGone(t *testing.T) {
	t.Parallel()
	cfg := withAssets()
	cfg.StaleWhileRevalidate = time.Minute
	srv, logs := newTestServer(t, cfg, func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		switch string(ctx.QueryArgs().Peek("case")) {
		case "missing":
			return nil, NotFound(templ.Raw(`<article data-fragment="hello"><h1>Story not found</h1></article>`))
		case "gone":
			return nil, Gone(templ.Raw(`<article data-fragment="hello"><h1>Story withdrawn</h1></article>`))
		case "wrapped":
			return nil, fmt.Errorf("lookup: %w", NotFound(templ.Raw(`<p data-fragment="hello">wrapped</p>`)))
		case "nil":
			return nil, NotFound(nil)
		case "render":
			return nil, NotFound(templ.ComponentFunc(func(context.Context, io.Writer) error { return errors.New("template broke") }))
		}
		return hello(ctx)
	})
	ln := start(t, srv)
	ok := get(t, ln, "/")

	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"?case=missing", 404, `<article data-fragment="hello"><h1>Story not found</h1></article>`},
		{"?case=gone", 410, `<article data-fragment="hello"><h1>Story withdrawn</h1></article>`},
		{"?case=wrapped", 404, `<p data-fragment="hello">wrapped</p>`},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			resp := do(t, ln, newRequest(method, "http://fragment.test/"+tt.query))
			if resp.StatusCode() != tt.status {
				t.Errorf("%s %s: status %d, want %d", method, tt.query, resp.StatusCode(), tt.status)
			}
			if method == "GET" && string(resp.Body()) != tt.body {
				t.Errorf("%s %s: body %q, want %q", method, tt.query, resp.Body(), tt.body)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "X-Fragment-Version"} {
				if got, want := string(resp.Header.Peek(h)), string(ok.Header.Peek(h)); got != want {
					t.Errorf("%s %s: %s = %q, the 200 snippet's is %q", method, tt.query, h, got, want)
				}
			}
			if got, want := strings.Join(peekAll(resp, "Link"), ", "), strings.Join(peekAll(ok, "Link"), ", "); got != want || got == "" {
				t.Errorf("%s %s: Link %q, the 200 snippet's is %q", method, tt.query, got, want)
			}
		}
	}
	for _, q := range []string{"?case=nil", "?case=render"} {
		resp := get(t, ln, "/"+q)
		if resp.StatusCode() != 500 || string(resp.Body()) != "internal error\n" || string(resp.Header.Peek("Cache-Control")) != "no-store" || len(resp.Header.PeekAll("Link")) != 0 {
			t.Errorf("%s: %d %q, Cache-Control %q, Link %q; want a plain 500", q, resp.StatusCode(), resp.Body(), resp.Header.Peek("Cache-Control"), peekAll(resp, "Link"))
		}
	}
	for _, want := range []string{"no component to render (status 404)", "template broke"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t, withAssets(), func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		code, loc, _ := strings.Cut(string(ctx.QueryArgs().Peek("to")), " ")
		var n int
		_, _ = fmt.Sscan(code, &n)
		return nil, Redirect(n, loc)
	})
	ln := start(t, srv)
	tests := []struct {
		code     int
		location string
		ok       bool
	}{
		{301, "/news/new-slug", true},
		{302, "/news/new-slug?from=old#top", true},
		{303, "/", true},
		{307, "https://partner.example/news/x", true},
		{308, "HTTP://partner.example:8080/x", true},
		{301, "//evil.example/x", false},
		{301, `/\evil.example`, false},
		{301, `\\evil.example`, false},
		{301, "javascript:alert(1)", false},
		{301, "https://user:pw@evil.example/", false},
		{301, "https:///no-host", false},
		{301, "ftp://files.example/x", false},
		{301, "news/relative", false},
		{301, "/news/a b", false},
		{301, "", false},
		{200, "/news/new-slug", false},
		{304, "/news/new-slug", false},
		{300, "/news/new-slug", false},
	}
	for _, tt := range tests {
		req := newRequest("GET", "http://fragment.test/")
		req.URI().QueryArgs().Set("to", fmt.Sprintf("%d %s", tt.code, tt.location))
		resp := do(t, ln, req)
		if !tt.ok {
			if resp.StatusCode() != 500 || len(resp.Header.Peek("Location")) != 0 || string(resp.Header.Peek("Cache-Control")) != "no-store" {
				t.Errorf("Redirect(%d, %q): %d, Location %q, Cache-Control %q; want a 500 without Location", tt.code, tt.location, resp.StatusCode(), resp.Header.Peek("Location"), resp.Header.Peek("Cache-Control"))
			}
			continue
		}
		if resp.StatusCode() != tt.code || string(resp.Header.Peek("Location")) != tt.location {
			t.Errorf("Redirect(%d, %q): %d, Location %q", tt.code, tt.location, resp.StatusCode(), resp.Header.Peek("Location"))
		}
		if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=30" {
			t.Errorf("Redirect(%d, %q): Cache-Control %q, want the snippet's", tt.code, tt.location, got)
		}
		if len(resp.Body()) != 0 {
			t.Errorf("Redirect(%d, %q): body %q", tt.code, tt.location, resp.Body())
		}
	}
	for _, want := range []string{
		`redirect location \"//evil.example/x\" is neither a path on the site`,
		`redirect code 304 is not one of 301, 302, 303, 307, 308`,
		`level=ERROR`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestAnswersOutsideASnippet: a route of the service's own cannot answer
// with markup or a redirect; it gets a 500 that says why in the log.
func TestAnswersOutsideASnippet(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t, Config{}, hello)
	srv.Handle("GET", "/extra", NoAuth(), func(*fasthttp.RequestCtx) error { return Redirect(301, "/elsewhere") })
	resp := get(t, start(t, srv), "/extra")
	if resp.StatusCode() != 500 || len(resp.Header.Peek("Location")) != 0 {
		t.Errorf("%d, Location %q; want 500", resp.StatusCode(), resp.Header.Peek("Location"))
	}
	if !strings.Contains(logs.String(), "only a SnippetFunc may answer so") {
		t.Errorf("log does not say why:\n%s", logs)
	}
}
