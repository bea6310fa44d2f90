package fragmenttest

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// Server is a fragment service served on an in-memory listener.
type Server struct {
	ln     *fasthttputil.InmemoryListener
	client *fasthttp.HostClient
}

// Start serves srv in memory until the test ends, then shuts it down and
// fails the test if the shutdown was not clean.
func Start(t testing.TB, srv *fragment.Server) *Server {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	s := &Server{
		ln: ln,
		client: &fasthttp.HostClient{
			Addr:         "fragment.test",
			Dial:         func(string) (net.Conn, error) { return ln.Dial() },
			ReadTimeout:  5 * time.Second,
			WriteTimeout: 5 * time.Second,
		},
	}
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fragmenttest: serve: %v", err)
		}
	})
	return s
}

// Dial opens a connection to the server, for a fasthttp client of your own.
func (s *Server) Dial() (net.Conn, error) { return s.ln.Dial() }

// Do sends req and returns the response. Relative URIs ("/?view=list")
// are sent as they are.
func (s *Server) Do(req *fasthttp.Request) (*fasthttp.Response, error) {
	resp := &fasthttp.Response{}
	if err := s.client.Do(req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// Get sends GET uri, after applying each of opts to the request (to add
// credentials, say), and fails the test on a transport error.
func (s *Server) Get(t testing.TB, uri string, opts ...func(*fasthttp.Request)) *fasthttp.Response {
	t.Helper()
	return s.Request(t, fasthttp.MethodGet, uri, nil, opts...)
}

// Request sends a request with the given method, uri and body, after
// applying each of opts to it, and fails the test on a transport error.
func (s *Server) Request(t testing.TB, method, uri string, body []byte, opts ...func(*fasthttp.Request)) *fasthttp.Response {
	t.Helper()
	req := &fasthttp.Request{}
	req.Header.SetMethod(method)
	req.SetRequestURI("http://fragment.test" + uri)
	if body != nil {
		req.SetBody(body)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := s.Do(req)
	if err != nil {
		t.Fatalf("fragmenttest: %s %s: %v", method, uri, err)
	}
	return resp
}

// Bearer returns a request option that sets a bearer token.
func Bearer(token string) func(*fasthttp.Request) {
	return func(req *fasthttp.Request) { fragment.SetBearer(req, token) }
}

// Signed returns a request option that signs the request with secret at
// the current time. Apply it last.
func Signed(secret []byte) func(*fasthttp.Request) {
	return func(req *fasthttp.Request) { fragment.SignRequest(req, secret, time.Now()) }
}

// Document parses an HTML response body for goquery selectors.
func Document(t testing.TB, body []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("fragmenttest: parse html: %v", err)
	}
	return doc
}

// Stylesheets returns the paths of the stylesheets an answer declares in
// its Link headers, read as the composer reads them.
func Stylesheets(resp *fasthttp.Response) []string {
	var paths []string
	for _, a := range protocol.ParseLinks(resp.Header.PeekAll(protocol.HeaderLink)).Assets {
		if a.Kind == protocol.Stylesheet {
			paths = append(paths, a.Path)
		}
	}
	return paths
}

// Stylesheet checks that resp, a snippet answer, declares one stylesheet,
// /assets/<stem>.<8 hex>.css for the asset file name (such as
// "headlines.css"), and that the server serves it without credentials as
// an immutable text/css file. It returns the stylesheet's bytes, and
// fails the test otherwise.
func (s *Server) Stylesheet(t testing.TB, resp *fasthttp.Response, name string) []byte {
	t.Helper()
	stem, ok := strings.CutSuffix(name, ".css")
	if !ok {
		t.Fatalf("fragmenttest: %q is not a stylesheet's file name", name)
	}
	links := Stylesheets(resp)
	re := regexp.MustCompile(`^/assets/` + regexp.QuoteMeta(stem) + `\.[0-9a-f]{8}\.css$`)
	if len(links) != 1 || !re.MatchString(links[0]) {
		t.Fatalf("fragmenttest: the answer declares stylesheets %q; want one, /assets/%s.<8 hex>.css", links, stem)
	}
	css := s.Get(t, links[0])
	if css.StatusCode() != fasthttp.StatusOK {
		t.Fatalf("fragmenttest: GET %s without credentials: status %d", links[0], css.StatusCode())
	}
	if ct := string(css.Header.ContentType()); ct != "text/css; charset=utf-8" {
		t.Errorf("fragmenttest: GET %s: Content-Type %q", links[0], ct)
	}
	if cc := string(css.Header.Peek(fasthttp.HeaderCacheControl)); cc != fragment.AssetCacheControl {
		t.Errorf("fragmenttest: GET %s: Cache-Control %q, want %q", links[0], cc, fragment.AssetCacheControl)
	}
	return css.Body()
}

// IgnoredGoroutines lists the fasthttp goroutines that outlive a stopped
// server for a while (cleaners asleep until their next tick, the shared
// Date header refresher), as goleak.IgnoreAnyFunction arguments.
var IgnoredGoroutines = []string{
	"github.com/valyala/fasthttp.updateServerDate.func1",
	"github.com/valyala/fasthttp.(*workerPool).Start.func2",
	"github.com/valyala/fasthttp.(*HostClient).connsCleaner",
}
