package fragment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

var (
	testCSS = []byte(".frag-hello { color: #f3f5f9; }\n")
	testJS  = []byte("export const hello = 1;\n")
)

// hashedPath is where an asset named stem+ext with body is served.
func hashedPath(stem, ext string, body []byte) string {
	sum := sha256.Sum256(body)
	return "/assets/" + stem + "." + hex.EncodeToString(sum[:])[:8] + ext
}

func withAssets() Config {
	return Config{
		MaxAge: 30 * time.Second,
		Assets: []Asset{CSS("hello.css", testCSS), JS("hello.js", testJS)},
	}
}

func TestAssetPath(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, withAssets(), hello)
	for name, want := range map[string]string{
		"hello.css": hashedPath("hello", ".css", testCSS),
		"hello.js":  hashedPath("hello", ".js", testJS),
		"other.css": "",
	} {
		if got := srv.AssetPath(name); got != want {
			t.Errorf("AssetPath(%q) = %q, want %q", name, got, want)
		}
	}
	if p := srv.AssetPath("hello.css"); !protocol.ValidAssetPath(p) {
		t.Errorf("%q is not a valid asset path", p)
	}
}

func TestAssetsAreServed(t *testing.T) {
	t.Parallel()
	cfg := withAssets()
	cfg.Auth = HMACAuth(testSecret)
	srv, _ := newTestServer(t, cfg, hello)
	ln := start(t, srv)

	tests := []struct {
		name  string
		ctype string
		body  []byte
	}{
		{"hello.css", "text/css; charset=utf-8", testCSS},
		{"hello.js", "text/javascript; charset=utf-8", testJS},
	}
	for _, tt := range tests {
		path := srv.AssetPath(tt.name)
		// No credentials: assets are public even when the snippet is not.
		resp := get(t, ln, path)
		if resp.StatusCode() != 200 || string(resp.Body()) != string(tt.body) {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode(), resp.Body())
		}
		etag := string(resp.Header.Peek("ETag"))
		for h, want := range map[string]string{
			"Content-Type":           tt.ctype,
			"Cache-Control":          "public, max-age=31536000, immutable",
			"X-Content-Type-Options": "nosniff",
			"X-Fragment-Version":     "1.2.3",
		} {
			if got := string(resp.Header.Peek(h)); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, h, got, want)
			}
		}
		if len(etag) < 10 || etag[0] != '"' || etag[len(etag)-1] != '"' {
			t.Errorf("GET %s: ETag %q is not a strong entity tag", path, etag)
		}

		head := do(t, ln, newRequest("HEAD", "http://fragment.test"+path))
		if head.StatusCode() != 200 || len(head.Body()) != 0 || head.Header.ContentLength() != len(tt.body) || string(head.Header.ContentType()) != tt.ctype {
			t.Errorf("HEAD %s: %d, %d body bytes, Content-Length %d, %s", path, head.StatusCode(), len(head.Body()), head.Header.ContentLength(), head.Header.ContentType())
		}

		cond := newRequest("GET", "http://fragment.test"+path)
		cond.Header.Set("If-None-Match", `"other", `+etag)
		if resp := do(t, ln, cond); resp.StatusCode() != 304 || len(resp.Body()) != 0 || string(resp.Header.Peek("ETag")) != etag {
			t.Errorf("If-None-Match %s: %d %q, ETag %q; want 304, no body", etag, resp.StatusCode(), resp.Body(), resp.Header.Peek("ETag"))
		}
		cond = newRequest("GET", "http://fragment.test"+path)
		cond.Header.Set("If-None-Match", `"other"`)
		if resp := do(t, ln, cond); resp.StatusCode() != 200 {
			t.Errorf("If-None-Match another tag: %d, want 200", resp.StatusCode())
		}
	}

	// Only the declared names are served: an old hash is a 404.
	if resp := get(t, ln, hashedPath("hello", ".css", []byte("old"))); resp.StatusCode() != 404 {
		t.Errorf("old asset path: %d, want 404", resp.StatusCode())
	}
	if resp := do(t, ln, newRequest("POST", "http://fragment.test"+srv.AssetPath("hello.css"))); resp.StatusCode() != 405 {
		t.Errorf("POST asset: %d, want 405", resp.StatusCode())
	}
	if resp := get(t, ln, "/"); resp.StatusCode() != 401 {
		t.Errorf("the snippet without credentials: %d, want 401", resp.StatusCode())
	}
}

func TestSnippetLinksItsAssets(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, withAssets(), func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		switch string(ctx.QueryArgs().Peek("case")) {
		case "missing":
			return nil, NotFound(templ.Raw(`<p data-fragment="hello">No such thing</p>`))
		case "gone":
			return nil, Gone(templ.Raw(`<p data-fragment="hello">Removed</p>`))
		case "bad":
			return nil, Errorf(fasthttp.StatusBadRequest, "bad input")
		}
		return hello(ctx)
	})
	ln := start(t, srv)
	want := []string{
		"<" + srv.AssetPath("hello.css") + ">; rel=stylesheet",
		"<" + srv.AssetPath("hello.js") + ">; rel=script",
	}
	for _, q := range []string{"/", "/?case=missing", "/?case=gone"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp := do(t, ln, newRequest(method, "http://fragment.test"+q))
			if diff := cmp.Diff(want, peekAll(resp, "Link")); diff != "" {
				t.Errorf("%s %s: Link (-want +got):\n%s", method, q, diff)
			}
			parsed := protocol.ParseLinks(resp.Header.PeekAll("Link"))
			if len(parsed.Assets) != 2 || parsed.Refused != 0 {
				t.Errorf("%s %s: the composer reads %+v", method, q, parsed)
			}
		}
	}
	if resp := get(t, ln, "/?case=bad"); len(resp.Header.PeekAll("Link")) != 0 {
		t.Errorf("a 400 declares assets: %q", peekAll(resp, "Link"))
	}

	plain, _ := newTestServer(t, Config{}, hello)
	if resp := get(t, start(t, plain), "/"); len(resp.Header.PeekAll("Link")) != 0 {
		t.Errorf("a fragment without assets sends Link %q", peekAll(resp, "Link"))
	}
}

func peekAll(resp *fasthttp.Response, name string) []string {
	var vs []string
	for _, v := range resp.Header.PeekAll(name) {
		vs = append(vs, string(v))
	}
	return vs
}

func TestNewValidatesAssets(t *testing.T) {
	t.Parallel()
	many := make([]Asset, protocol.MaxAssets+1)
	for i := range many {
		many[i] = CSS("a"+strconv.Itoa(i)+".css", testCSS)
	}
	tests := []struct {
		name   string
		assets []Asset
		want   string
	}{
		{"empty name", []Asset{CSS("", testCSS)}, "not a plain file name"},
		{"no extension", []Asset{CSS("hello", testCSS)}, "not a plain file name"},
		{"other extension", []Asset{CSS("hello.txt", testCSS)}, "not a plain file name"},
		{"upper-case extension", []Asset{CSS("hello.CSS", testCSS)}, "not a plain file name"},
		{"directory", []Asset{CSS("css/hello.css", testCSS)}, "not a plain file name"},
		{"parent", []Asset{CSS("../hello.css", testCSS)}, "not a plain file name"},
		{"hidden", []Asset{CSS(".hello.css", testCSS)}, "not a plain file name"},
		{"empty part", []Asset{CSS("hello..css", testCSS)}, "not a plain file name"},
		{"space", []Asset{CSS("hel lo.css", testCSS)}, "not a plain file name"},
		{"query", []Asset{CSS("hello.css?v=1", testCSS)}, "not a plain file name"},
		{"script as stylesheet", []Asset{CSS("hello.js", testJS)}, `stylesheet "hello.js" must end in .css`},
		{"stylesheet as script", []Asset{JS("hello.css", testCSS)}, `script "hello.css" must end in .js`},
		{"duplicate", []Asset{CSS("hello.css", testCSS), JS("hello.js", testJS), CSS("hello.css", []byte("x{}"))}, `"hello.css" is declared twice`},
		{"empty body", []Asset{CSS("hello.css", nil)}, `"hello.css" is empty`},
		{"zero asset", []Asset{{}}, "not made with fragment.CSS or fragment.JS"},
		{"too long", []Asset{CSS(strings.Repeat("a", protocol.MaxAssetPath)+".css", testCSS)}, "use a shorter name"},
		{"too many", many, "at most 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{Name: "hello", Version: "1.0.0", Assets: tt.assets}, nil, hello)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v; want an error saying %q", err, tt.want)
			}
		})
	}
	ok := []Asset{CSS("hello.css", testCSS), JS("hello.js", testJS), CSS("hello.print.css", testCSS), CSS("Hello_2-b.css", testCSS)}
	if _, err := New(Config{Name: "hello", Version: "1.0.0", Assets: ok}, nil, hello); err != nil {
		t.Errorf("valid assets refused: %v", err)
	}
}

// TestAssetsOverTCP serves a fragment on a real loopback listener and
// reads it with net/http, a client other than fasthttp: one Link header
// per asset, and the assets themselves.
func TestAssetsOverTCP(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, withAssets(), func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		SetHead(ctx, Head{Title: "Night trains · return", Canonical: "/news/night-trains"})
		return hello(ctx)
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()

	resp, err := client.Get(base + "/?name=tcp")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	want := []string{
		"<" + srv.AssetPath("hello.css") + ">; rel=stylesheet",
		"<" + srv.AssetPath("hello.js") + ">; rel=script",
	}
	if diff := cmp.Diff(want, resp.Header.Values("Link")); diff != "" {
		t.Errorf("Link (-want +got):\n%s", diff)
	}
	if got, ok := protocol.DecodeHeadValue([]byte(resp.Header.Get(protocol.HeaderTitle)), protocol.MaxTitle); !ok || got != "Night trains · return" {
		t.Errorf("title %q (%q)", got, resp.Header.Get(protocol.HeaderTitle))
	}

	for name, body := range map[string][]byte{"hello.css": testCSS, "hello.js": testJS} {
		resp, err := client.Get(base + srv.AssetPath(name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(got) != string(body) {
			t.Errorf("GET %s: %d %q %v", name, resp.StatusCode, got, err)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != AssetCacheControl {
			t.Errorf("GET %s: Cache-Control %q", name, cc)
		}
	}
}
