// Package composertest provides working fakes for composer tests: fragment
// services on real loopback sockets whose behaviour a test can change while
// they run (answer, fail, hang, count calls, record what they were sent).
package composertest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Fragment is a fake fragment service on 127.0.0.1.
type Fragment struct {
	Name string
	URL  string

	calls atomic.Int64
	mu    sync.Mutex
	body  string
	cc    string
	ver   string
	ctype string
	code  int
	delay time.Duration
	gate  chan struct{}
	last  *fasthttp.RequestHeader
	lastQ string
	echo  string
	setCk string
	hdrs  [][2]string
	files map[string]file
	srv   *fasthttp.Server
}

// file is a path the fake serves besides its snippet, such as an asset.
type file struct {
	ctype, body string
	calls       *atomic.Int64
}

// NewFragment starts a fake fragment service that answers body with
// Cache-Control "public, max-age=60"; it stops when the test ends.
func NewFragment(t testing.TB, name, body string) *Fragment {
	t.Helper()
	f := &Fragment{Name: name, body: body, cc: "public, max-age=60", ver: "1.0.0", ctype: "text/html; charset=utf-8", code: 200}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("composertest: listen: %v", err)
	}
	f.URL = "http://" + ln.Addr().String() + "/"
	f.srv = &fasthttp.Server{Handler: f.handle, CloseOnShutdown: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		f.Release()
		_ = f.srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		<-done
	})
	return f
}

func (f *Fragment) handle(rc *fasthttp.RequestCtx) {
	f.mu.Lock()
	if fl, ok := f.files[string(rc.Path())]; ok {
		f.mu.Unlock()
		fl.calls.Add(1)
		rc.SetContentType(fl.ctype)
		rc.SetBodyString(fl.body)
		return
	}
	f.calls.Add(1)
	var h fasthttp.RequestHeader
	rc.Request.Header.CopyTo(&h)
	f.last = &h
	f.lastQ = string(rc.QueryArgs().QueryString())
	body, cc, ver, ctype, code, delay, gate := f.body, f.cc, f.ver, f.ctype, f.code, f.delay, f.gate
	if f.echo != "" {
		body += "<i data-echo>" + string(rc.Request.Header.Cookie(f.echo)) + "</i>"
	}
	setCk, hdrs := f.setCk, f.hdrs
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	rc.SetStatusCode(code)
	rc.SetContentType(ctype)
	if cc != "" {
		rc.Response.Header.Set("Cache-Control", cc)
	}
	rc.Response.Header.Set("X-Fragment-Version", ver)
	if setCk != "" {
		rc.Response.Header.Add("Set-Cookie", setCk)
	}
	for _, h := range hdrs {
		rc.Response.Header.Add(h[0], h[1])
	}
	rc.SetBodyString(body)
}

// AddHeader makes every answer also carry the header k: v (added, so a
// name may be given several values).
func (f *Fragment) AddHeader(k, v string) {
	f.mu.Lock()
	f.hdrs = append(f.hdrs, [2]string{k, v})
	f.mu.Unlock()
}

// ClearHeaders drops the headers given to AddHeader.
func (f *Fragment) ClearHeaders() { f.mu.Lock(); f.hdrs = nil; f.mu.Unlock() }

// ServeFile serves body with content type ctype at path (instead of the
// snippet); FileCalls counts the requests for it.
func (f *Fragment) ServeFile(path, ctype, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files == nil {
		f.files = map[string]file{}
	}
	f.files[path] = file{ctype: ctype, body: body, calls: new(atomic.Int64)}
}

// FileCalls is how many requests a path given to ServeFile had.
func (f *Fragment) FileCalls(path string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.files[path]; ok {
		return fl.calls.Load()
	}
	return 0
}

// EchoCookie makes every answer end with the value of the named request
// cookie, as <i data-echo>VALUE</i>: markup built from what a user sent.
func (f *Fragment) EchoCookie(name string) { f.mu.Lock(); f.echo = name; f.mu.Unlock() }

// SetCookie makes every answer carry a Set-Cookie header with value v
// ("" for none).
func (f *Fragment) SetCookie(v string) { f.mu.Lock(); f.setCk = v; f.mu.Unlock() }

// Calls is how many requests the fragment received.
func (f *Fragment) Calls() int64 { return f.calls.Load() }

// SetBody changes what the fragment answers.
func (f *Fragment) SetBody(b string) { f.mu.Lock(); f.body = b; f.mu.Unlock() }

// SetCacheControl changes the Cache-Control header it sends ("" for none).
func (f *Fragment) SetCacheControl(cc string) { f.mu.Lock(); f.cc = cc; f.mu.Unlock() }

// SetStatus changes the status code it answers with.
func (f *Fragment) SetStatus(code int) { f.mu.Lock(); f.code = code; f.mu.Unlock() }

// SetContentType changes the Content-Type it sends.
func (f *Fragment) SetContentType(ct string) { f.mu.Lock(); f.ctype = ct; f.mu.Unlock() }

// SetVersion changes the X-Fragment-Version it sends.
func (f *Fragment) SetVersion(v string) { f.mu.Lock(); f.ver = v; f.mu.Unlock() }

// SetDelay makes every answer wait d first.
func (f *Fragment) SetDelay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// Hold makes requests block until Release is called.
func (f *Fragment) Hold() {
	f.mu.Lock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
	f.mu.Unlock()
}

// Release lets held requests (and later ones) through.
func (f *Fragment) Release() {
	f.mu.Lock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
	f.mu.Unlock()
}

// LastHeader returns a copy of the headers of the last request (nil if none).
func (f *Fragment) LastHeader() *fasthttp.RequestHeader {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// LastQuery is the query string of the last request.
func (f *Fragment) LastQuery() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastQ
}
