package upstream_test

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/upstream"
)

// rawServer is a fragment service on loopback written at the wire level,
// so that it can misbehave: serve is handed each connection it accepts.
type rawServer struct {
	url   string
	conns atomic.Int64
}

func newRawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{url: "http://" + ln.Addr().String()}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, bufio.NewReader(c))
			})
		}
	})
	return s
}

// answer writes a 200 with body, and extra header lines.
func answer(c net.Conn, body string, extra ...string) {
	h := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	fmt.Fprintf(c, "%sContent-Length: %d\r\n\r\n%s", h, len(body), body)
}

func client(url string, maxBytes int) *upstream.Client {
	return upstream.NewClient(url, upstream.Target{Name: "f", Timeout: time.Second, MaxBytes: maxBytes})
}

func TestSendWritesBeforeReceive(t *testing.T) {
	// The service answers only once it holds both requests: the second is
	// sent before the first answer is waited for.
	var arrived sync.WaitGroup
	arrived.Add(2)
	both := make(chan struct{})
	go func() { arrived.Wait(); close(both) }()
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		arrived.Done()
		select {
		case <-both:
			answer(c, req.URL.Path)
		case <-time.After(3 * time.Second):
			fmt.Fprint(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
		}
	})
	c := client(s.url, 1<<20)
	deadline := time.Now().Add(5 * time.Second)
	first := c.Send(&upstream.Request{URL: s.url + "/one"}, deadline)
	second := c.Send(&upstream.Request{URL: s.url + "/two"}, deadline)
	for _, tt := range []struct {
		call *upstream.Call
		want string
	}{{first, "/one"}, {second, "/two"}} {
		a, err := tt.call.Receive()
		if err != nil {
			t.Fatalf("%s: %v", tt.want, err)
		}
		if string(a.Body) != tt.want {
			t.Fatalf("body %q, want %q", a.Body, tt.want)
		}
	}
}

func TestPooledConnectionClosedByServiceIsRetried(t *testing.T) {
	for _, tt := range []struct {
		name string
		// reset closes with a reset, which the next write on the pooled
		// connection meets; otherwise the next read meets the close.
		reset bool
	}{{"closed", false}, {"reset", true}} {
		t.Run(tt.name, func(t *testing.T) {
			// The service answers one request per connection, as if keeping
			// it alive, then closes it: the next call finds it broken in
			// the pool.
			closed := make(chan struct{}, 4)
			s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err == nil {
					answer(c, "<p>ok</p>")
				}
				if tt.reset {
					_ = c.(*net.TCPConn).SetLinger(0)
				}
				_ = c.Close()
				closed <- struct{}{}
			})
			c := client(s.url, 1<<20)
			for i := range 3 {
				a, err := c.Fetch(&upstream.Request{URL: s.url + "/"}, time.Now().Add(5*time.Second))
				if err != nil {
					t.Fatalf("fetch %d: %v", i, err)
				}
				if string(a.Body) != "<p>ok</p>" {
					t.Fatalf("fetch %d: body %q", i, a.Body)
				}
				<-closed                         // the connection in the pool is dead now
				time.Sleep(5 * time.Millisecond) // and this side knows it
			}
			if n := s.conns.Load(); n != 3 {
				t.Fatalf("%d connections, want 3 (one per call, the broken one retried)", n)
			}
		})
	}
}

func TestConnectionsKeptAliveUnlessCloseAnswered(t *testing.T) {
	for _, tt := range []struct {
		name  string
		extra []string
		conns int64
	}{
		{"keep-alive", nil, 1},
		// The service says close but leaves the connection open: it must
		// not be used again.
		{"connection close", []string{"Connection: close"}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					answer(c, "<p>ok</p>", tt.extra...)
				}
			})
			c := client(s.url, 1<<20)
			for i := range 3 {
				if _, err := c.Fetch(&upstream.Request{URL: s.url + "/"}, time.Now().Add(5*time.Second)); err != nil {
					t.Fatalf("fetch %d: %v", i, err)
				}
			}
			if n := s.conns.Load(); n != tt.conns {
				t.Fatalf("%d connections for 3 calls, want %d", n, tt.conns)
			}
		})
	}
}

func TestWaitTellsWhetherTheAnswerIsIn(t *testing.T) {
	release := make(chan struct{})
	s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/late" {
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				}
			}
			answer(c, "<p>"+req.URL.Path+"</p>")
		}
	})
	c := client(s.url, 1<<20)
	late := c.Send(&upstream.Request{URL: s.url + "/late"}, time.Now().Add(5*time.Second))
	if late.Wait(20 * time.Millisecond) {
		t.Fatal("Wait reported an answer the service has not sent")
	}
	close(release)
	// Waiting left no short deadline on the connection: the answer is read
	// well after the wait gave up.
	time.Sleep(50 * time.Millisecond)
	if a, err := late.Receive(); err != nil || string(a.Body) != "<p>/late</p>" {
		t.Fatalf("Receive after a wait = %v, %v", a, err)
	}

	soon := c.Send(&upstream.Request{URL: s.url + "/soon"}, time.Now().Add(5*time.Second))
	if !soon.Wait(5 * time.Second) {
		t.Fatal("Wait did not see the answer")
	}
	if a, err := soon.Receive(); err != nil || string(a.Body) != "<p>/soon</p>" {
		t.Fatalf("Wait consumed the answer: %v, %v", a, err)
	}

	unreachable := client("http://127.0.0.1:1", 1<<20).Send(&upstream.Request{URL: "http://127.0.0.1:1/"}, time.Now().Add(time.Second))
	if !unreachable.Wait(time.Minute) {
		t.Fatal("a call that could not be sent is not known at once")
	}
	if _, err := unreachable.Receive(); !errors.Is(err, upstream.ErrFragmentFetch) {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestCallFailuresHaveTheirKind(t *testing.T) {
	for _, tt := range []struct {
		name  string
		serve func(c net.Conn)
		want  error
		text  string
	}{
		{"hangs", func(net.Conn) { time.Sleep(time.Second) }, upstream.ErrFragmentTimeout, "f after 1s"},
		{"hangs in the body", func(c net.Conn) {
			fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50\r\n\r\n<p>")
			time.Sleep(time.Second)
		}, upstream.ErrFragmentTimeout, "f after 1s"},
		{"body over the bound", func(c net.Conn) { answer(c, strings.Repeat("x", 100)) }, upstream.ErrFragmentTooLarge, "over 64 bytes"},
		{"headers over the buffer", func(c net.Conn) { answer(c, "<p>", "X-Big: "+strings.Repeat("y", 9000)) }, upstream.ErrFragmentTooLarge, "response headers over 8192 bytes"},
		{"garbage", func(c net.Conn) { fmt.Fprint(c, "SMTP ready\r\n\r\n") }, upstream.ErrFragmentFetch, "f:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, err := http.ReadRequest(br); err == nil {
					tt.serve(c)
				}
			})
			c := upstream.NewClient(s.url, upstream.Target{Name: "f", Timeout: time.Second, MaxBytes: 64})
			_, err := c.Fetch(&upstream.Request{URL: s.url + "/"}, time.Now().Add(200*time.Millisecond))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.want, tt.text)
			}
		})
	}
}

func TestFetchOverHTTPS(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<p>%s over TLS</p>%s", r.URL.Path, strings.Repeat("x", 64<<10))
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := client(srv.URL, 1<<20)
	upstream.TrustOnly(c, roots)
	for i := range 3 { // the first call dials and shakes hands, the others reuse the connection
		a, err := c.Fetch(&upstream.Request{URL: srv.URL + "/weather"}, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("fetch %d over https: %v", i, err)
		}
		if want := "<p>/weather over TLS</p>"; !strings.HasPrefix(string(a.Body), want) || len(a.Body) != len(want)+64<<10 {
			t.Fatalf("fetch %d: %d bytes starting %.30q, want %q and 64 KB", i, len(a.Body), a.Body, want)
		}
	}
	if served.Load() != 3 || conns.Load() != 1 {
		t.Fatalf("the service answered %d requests on %d connections, want 3 on 1", served.Load(), conns.Load())
	}
}

func TestHTTPSRefusesAnUntrustedService(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<p>hi</p>")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	c := client(srv.URL, 1<<20)
	upstream.TrustOnly(c, x509.NewCertPool()) // trusts nobody
	_, err := c.Fetch(&upstream.Request{URL: srv.URL + "/"}, time.Now().Add(5*time.Second))
	if !errors.Is(err, upstream.ErrFragmentFetch) {
		t.Fatalf("fetch from an untrusted service: %v, want a fetch error", err)
	}
}
