package fragment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its cached Date header in a process-wide
		// goroutine that never ends.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// The worker pool's cleaner notices a stopped server only after its
		// idle sleep (10 s by default).
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// Likewise a client's idle-connection cleaner (used by the example).
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	)
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// syncBuffer is a log sink that tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start serves srv on an in-memory listener until the test ends.
func start(t *testing.T, srv *Server) *fasthttputil.InmemoryListener {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln
}

// roundTrip sends req over a fresh connection to ln.
func roundTrip(ln *fasthttputil.InmemoryListener, req *fasthttp.Request) (*fasthttp.Response, error) {
	conn, err := ln.Dial()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req.SetConnectionClose()
	bw := bufio.NewWriter(conn)
	if err := req.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	resp := &fasthttp.Response{SkipBody: req.Header.IsHead()}
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		return nil, err
	}
	return resp, nil
}

// do sends req to ln and returns the response.
func do(t *testing.T, ln *fasthttputil.InmemoryListener, req *fasthttp.Request) *fasthttp.Response {
	t.Helper()
	resp, err := roundTrip(ln, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Header.Method(), req.URI(), err)
	}
	return resp
}

func get(t *testing.T, ln *fasthttputil.InmemoryListener, uri string) *fasthttp.Response {
	t.Helper()
	return do(t, ln, newRequest("GET", "http://fragment.test"+uri))
}

func hello(ctx *fasthttp.RequestCtx) (templ.Component, error) {
	name := string(ctx.QueryArgs().Peek("name"))
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := io.WriteString(w, `<section data-fragment="hello" class="frag frag-hello">Hello, `+templ.EscapeString(name)+`</section>`)
		return err
	}), nil
}

func newTestServer(t *testing.T, cfg Config, snippet SnippetFunc) (*Server, *syncBuffer) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "hello"
	}
	if cfg.Version == "" {
		cfg.Version = "1.2.3"
	}
	logs := &syncBuffer{}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), snippet)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv, logs
}

func TestSnippetHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{MaxAge: 30 * time.Second, StaleWhileRevalidate: 2 * time.Minute}, hello)
	ln := start(t, srv)

	resp := get(t, ln, "/?name=%3Cb%3Eworld")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	for h, want := range map[string]string{
		"Content-Type":       "text/html; charset=utf-8",
		"Cache-Control":      "public, max-age=30, stale-while-revalidate=120",
		"X-Fragment-Version": "1.2.3",
	} {
		if got := string(resp.Header.Peek(h)); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if got := string(resp.Header.Peek("Server-Timing")); !strings.HasPrefix(got, "render;dur=") {
		t.Errorf("Server-Timing = %q", got)
	}
	if got, want := string(resp.Body()), `<section data-fragment="hello" class="frag frag-hello">Hello, &lt;b&gt;world</section>`; got != want {
		t.Errorf("body %q, want %q", got, want)
	}

	head := do(t, ln, newRequest("HEAD", "http://fragment.test/"))
	if head.StatusCode() != 200 || string(head.Header.Peek(HeaderVersion)) != "1.2.3" {
		t.Errorf("HEAD: status %d, version %q", head.StatusCode(), head.Header.Peek(HeaderVersion))
	}
}

func TestCacheControlWithoutSWR(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{MaxAge: 90 * time.Second}, hello)
	resp := get(t, start(t, srv), "/")
	if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=90" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{Name: "shows", Version: "1.2.0", Auth: HMACAuth(testSecret)}, hello)
	resp := get(t, start(t, srv), "/healthz")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var got healthBody
	if err := json.Unmarshal(resp.Body(), &got); err != nil {
		t.Fatal(err)
	}
	if want := (healthBody{Status: "ok", Fragment: "shows", Version: "1.2.0"}); got != want {
		t.Errorf("health %+v, want %+v", got, want)
	}
}

func TestSnippetAuth(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_764_000_000, 0)
	auth := HMACAuth(testSecret)
	auth.Now = func() time.Time { return now }
	srv, logs := newTestServer(t, Config{Auth: auth}, hello)
	ln := start(t, srv)

	signed := newRequest("GET", "http://fragment.test/?name=ok")
	SignRequest(signed, testSecret, now)
	if resp := do(t, ln, signed); resp.StatusCode() != 200 {
		t.Errorf("signed: status %d, body %q", resp.StatusCode(), resp.Body())
	}

	resp := get(t, ln, "/?name=nope")
	if resp.StatusCode() != 401 {
		t.Fatalf("unsigned: status %d", resp.StatusCode())
	}
	if got := string(resp.Body()); got != "unauthorized\n" {
		t.Errorf("unsigned body %q", got)
	}
	if got := string(resp.Header.Peek("Cache-Control")); got != "no-store" {
		t.Errorf("401 Cache-Control %q", got)
	}

	old := newRequest("GET", "http://fragment.test/?name=ok")
	SignRequest(old, testSecret, now.Add(-5*time.Minute))
	if resp := do(t, ln, old); resp.StatusCode() != 401 {
		t.Errorf("replayed: status %d", resp.StatusCode())
	}
	if resp := get(t, ln, "/healthz"); resp.StatusCode() != 200 {
		t.Errorf("healthz needs no credentials, got %d", resp.StatusCode())
	}
	if strings.Contains(logs.String(), string(testSecret)) {
		t.Error("log contains the secret")
	}
}

func TestBearerSnippet(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t, Config{Auth: BearerAuth("tok-en")}, hello)
	ln := start(t, srv)
	req := newRequest("GET", "http://fragment.test/")
	SetBearer(req, "tok-en")
	if resp := do(t, ln, req); resp.StatusCode() != 200 {
		t.Errorf("status %d", resp.StatusCode())
	}
	req = newRequest("GET", "http://fragment.test/")
	SetBearer(req, "wrong-token")
	resp := do(t, ln, req)
	if resp.StatusCode() != 401 {
		t.Errorf("status %d", resp.StatusCode())
	}
	if got := string(resp.Header.Peek("WWW-Authenticate")); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if l := logs.String(); strings.Contains(l, "tok-en") || strings.Contains(l, "wrong-token") {
		t.Error("log contains a token")
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t, Config{}, func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		if ctx.QueryArgs().Has("boom") {
			panic("kaboom")
		}
		return hello(ctx)
	})
	ln := start(t, srv)

	resp := get(t, ln, "/?boom=1")
	if resp.StatusCode() != 500 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	if got := string(resp.Body()); got != "internal error\n" {
		t.Errorf("body %q", got)
	}
	if got := string(resp.Header.Peek(HeaderVersion)); got != "1.2.3" {
		t.Errorf("version header %q after panic", got)
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Error("panic not logged")
	}
	if resp := get(t, ln, "/"); resp.StatusCode() != 200 {
		t.Errorf("after panic: status %d", resp.StatusCode())
	}
	metrics := string(get(t, ln, "/metrics").Body())
	if !strings.Contains(metrics, `tessera_fragment_panics_total{fragment="hello"} 1`) {
		t.Errorf("metrics do not count the panic:\n%s", metrics)
	}
}

func TestSnippetErrors(t *testing.T) {
	t.Parallel()
	failing := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, _ = io.WriteString(w, "<section>half")
		return errors.New("disk on fire")
	})
	srv, logs := newTestServer(t, Config{}, func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		switch string(ctx.QueryArgs().Peek("case")) {
		case "bad":
			return nil, Errorf(fasthttp.StatusBadRequest, "bad input")
		case "render":
			return failing, nil
		}
		return nil, errors.New("db password=hunter2")
	})
	ln := start(t, srv)

	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"?case=bad", 400, "bad input\n"},
		{"?case=render", 500, "internal error\n"},
		{"?case=other", 500, "internal error\n"},
	}
	for _, tt := range tests {
		resp := get(t, ln, "/"+tt.query)
		if resp.StatusCode() != tt.status || string(resp.Body()) != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.query, resp.StatusCode(), resp.Body(), tt.status, tt.body)
		}
		if got := string(resp.Header.Peek("Cache-Control")); got != "no-store" {
			t.Errorf("%s: Cache-Control %q", tt.query, got)
		}
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Error("render error not logged")
	}
}

func TestExtraRoutes(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{}, hello)
	srv.HandleJSON("POST", "/items", BearerAuth("editor"), func(ctx *fasthttp.RequestCtx) error {
		if len(ctx.PostBody()) == 0 {
			return Errorf(fasthttp.StatusBadRequest, "empty body")
		}
		return WriteJSON(ctx, fasthttp.StatusCreated, map[string]string{"got": string(ctx.PostBody())})
	})
	srv.Handle("GET", "/boom", NoAuth(), func(*fasthttp.RequestCtx) error { panic("json? no") })
	srv.HandleJSON("GET", "/jboom", NoAuth(), func(*fasthttp.RequestCtx) error { panic("json? yes") })
	ln := start(t, srv)

	post := func(token, body string) *fasthttp.Response {
		req := newRequest("POST", "http://fragment.test/items")
		if token != "" {
			SetBearer(req, token)
		}
		req.SetBodyString(body)
		return do(t, ln, req)
	}
	tests := []struct {
		name   string
		resp   *fasthttp.Response
		status int
		body   string
	}{
		{"created", post("editor", "x"), 201, `{"got":"x"}` + "\n"},
		{"bad", post("editor", ""), 400, `{"error":"empty body"}` + "\n"},
		{"no token", post("", "x"), 401, `{"error":"unauthorized"}` + "\n"},
		{"text panic", get(t, ln, "/boom"), 500, "internal error\n"},
		{"json panic", get(t, ln, "/jboom"), 500, `{"error":"internal error"}` + "\n"},
		{"not found", get(t, ln, "/nope"), 404, "not found\n"},
		{"method", do(t, ln, newRequest("DELETE", "http://fragment.test/items")), 405, "method not allowed\n"},
	}
	for _, tt := range tests {
		if tt.resp.StatusCode() != tt.status || string(tt.resp.Body()) != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.name, tt.resp.StatusCode(), tt.resp.Body(), tt.status, tt.body)
		}
	}
}

func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{MaxRequestBodySize: 1024}, hello)
	srv.HandleJSON("POST", "/items", NoAuth(), func(ctx *fasthttp.RequestCtx) error {
		return WriteJSON(ctx, 200, len(ctx.PostBody()))
	})
	ln := start(t, srv)
	req := newRequest("POST", "http://fragment.test/items")
	req.SetBody(bytes.Repeat([]byte("a"), 4096))
	// The server answers 413, or closes the connection while the client is
	// still sending the body; either way the handler never sees it.
	resp, err := roundTrip(ln, req)
	if err == nil && resp.StatusCode() != fasthttp.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{}, hello)
	ln := start(t, srv)
	get(t, ln, "/")
	get(t, ln, "/")
	resp := get(t, ln, "/metrics")
	if ct := string(resp.Header.ContentType()); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	body := string(resp.Body())
	for _, want := range []string{
		`tessera_fragment_requests_total{fragment="hello",route="/",code="200"} 2`,
		`tessera_fragment_render_seconds_count{fragment="hello"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Version: "1.0.0"}},
		{"bad name", Config{Name: "Hello World", Version: "1.0.0"}},
		{"no version", Config{Name: "x"}},
		{"not semver", Config{Name: "x", Version: "v1.0"}},
		{"bearer without token", Config{Name: "x", Version: "1.0.0", Auth: Auth{Mode: AuthBearer}}},
		{"negative max-age", Config{Name: "x", Version: "1.0.0", MaxAge: -time.Second}},
		{"relative path", Config{Name: "x", Version: "1.0.0", Path: "snippet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.cfg, nil, hello); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	if _, err := New(Config{Name: "x", Version: "1.0.0-rc.1+build.5"}, nil, hello); err != nil {
		t.Errorf("pre-release version refused: %v", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	srv, _ := newTestServer(t, Config{}, func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		close(started)
		<-release
		return hello(ctx)
	})
	ln := fasthttputil.NewInmemoryListener()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	respc := make(chan *fasthttp.Response, 1)
	go func() {
		resp, err := roundTrip(ln, newRequest("GET", "http://fragment.test/"))
		if err != nil {
			resp = &fasthttp.Response{}
			resp.SetStatusCode(599)
		}
		respc <- resp
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before the open request finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if resp := <-respc; resp.StatusCode() != 200 {
		t.Errorf("in-flight request: status %d", resp.StatusCode())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{}, hello)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context either refuses to listen or shuts down at once;
	// it must not block.
	_ = srv.ListenAndServe(ctx, "127.0.0.1:0")
	if err := srv.ListenAndServe(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Error("bad address accepted")
	}
}
