package admin_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/settings"
)

// A page of another site whose name now points at the composer (DNS
// rebinding) is same-origin to the browser: only its Host gives it away.
func TestUnknownHostIsRefused(t *testing.T) {
	t.Parallel()
	fs := newFragments(t)
	for _, tok := range []string{"", token} {
		s := startServerWith(t, fs.site(t), admin.Options{Settings: settings.NewMemory(settings.Options{}), Token: tok,
			Hosts: []string{"Tessera.Example", "ops.example:9443"}})
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.base, "http://"))
		auth := []string{}
		if tok != "" {
			auth = bearer(tok)
		}
		for _, tt := range []struct {
			host string
			want int
		}{
			{"evil.example:" + port, 403},
			{"evil.example", 403},
			{"127.0.0.1.evil.example:" + port, 403},
			{"localhost.:" + port, 403},
			{"localhost:1", 403},
			{"ops.example:" + port, 403},
			{"localhost:" + port, 200},
			{"LOCALHOST:" + port, 200},
			{"127.0.0.1:" + port, 200},
			{"tessera.example", 200},
			{"tessera.example:" + port, 200},
			{"ops.example:9443", 200},
		} {
			hdr := append([]string{"Host", tt.host}, auth...)
			st, _, body := s.do("GET", "/_tessera/api/fragments", "", hdr...)
			if st != tt.want {
				t.Errorf("token %v, Host %s: GET %d; want %d\n%s", tok != "", tt.host, st, tt.want, body)
			}
			if tt.want == 403 && !strings.Contains(body, "admin.hosts") {
				t.Errorf("Host %s: the refusal does not say what to do: %s", tt.host, body)
			}
			if tt.want != 403 {
				continue
			}
			// The attack as seen: a purge and a TTL change, same-origin.
			origin := []string{"Origin", "http://" + tt.host}
			if st, _, _ := s.do("POST", "/_tessera/api/purge?fragment=weather", "", append(hdr, origin...)...); st != 403 {
				t.Errorf("Host %s: purge %d; want 403", tt.host, st)
			}
			if st, _, _ := s.do("PUT", "/_tessera/api/fragments/weather/ttl", `{"ttl":"1s"}`, append(hdr, origin...)...); st != 403 {
				t.Errorf("Host %s: ttl %d; want 403", tt.host, st)
			}
		}
		if tun := s.comp.Tuning(); len(tun.Overrides) != 0 || len(tun.Generations) != 0 {
			t.Errorf("a request for an unknown host changed the tuning: %+v", tun)
		}
	}
}

// syncBuffer is a log sink for a handler used from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// clientFrom returns an HTTP client whose requests leave from the loopback
// address ip, a client address of its own.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestWrongTokensAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := startServerWith(t, newFragments(t).site(t), admin.Options{Settings: settings.NewMemory(settings.Options{}), Token: token,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for i := range admin.DefaultSignInFailures - 1 {
		if st, _, body := s.do("GET", "/_tessera/api/fragments", "", bearer("guess")...); st != 401 {
			t.Fatalf("wrong token %d: %d; want 401\n%s", i+1, st, body)
		}
	}
	st, hdr, body := s.do("GET", "/_tessera/api/fragments", "", bearer("guess")...)
	if st != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "try again in") {
		t.Fatalf("wrong token %d: %d, Retry-After %q; want 429 with Retry-After\n%s", admin.DefaultSignInFailures, st, hdr.Get("Retry-After"), body)
	}
	// While limited, even the right token is not tried.
	if st, hdr, _ := s.do("GET", "/_tessera/api/fragments", "", bearer(token)...); st != 429 || hdr.Get("Retry-After") == "" {
		t.Errorf("right token while limited: %d; want 429", st)
	}
	// Another address is not held up.
	s.http = clientFrom("127.0.0.2")
	if st, _, body := s.do("GET", "/_tessera/api/fragments", "", "Host", strings.TrimPrefix(s.base, "http://"), "Authorization", "Bearer "+token); st != 200 {
		t.Errorf("right token from another address: %d\n%s", st, body)
	}
	out := logs.String()
	if strings.Count(out, "sign-in limited") != 1 || strings.Count(out, "sign-in refused") != admin.DefaultSignInFailures-1 {
		t.Errorf("want each wrong token logged and the limit once:\n%s", out)
	}
	if strings.Contains(out, "guess") || strings.Contains(out, token) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}

// The revocations settings.Store keeps in Redis are checked on every use
// of a session cookie; fakeRevocations stands in for them.
type fakeRevocations struct {
	mu  sync.Mutex
	ids map[string]time.Time
	err error
}

func (f *fakeRevocations) RevokeSession(_ context.Context, id string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.ids[id] = until
	return nil
}

func (f *fakeRevocations) SessionRevoked(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.ids[id]
	return ok, f.err
}

var _ admin.Revocations = (*fakeRevocations)(nil)
var _ admin.Revocations = (*settings.Store)(nil)

func TestEveryRouteAnswers405WithAllow(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFragments(t).site(t), settings.NewMemory(settings.Options{}), token)
	for _, tt := range []struct{ method, path, allow string }{
		{"POST", "/_tessera/api/fragments", "GET, HEAD"},
		{"OPTIONS", "/_tessera/api/fragments", "GET, HEAD"},
		{"DELETE", "/_tessera/api/fragments", "GET, HEAD"},
		{"PUT", "/_tessera/api/fragments/weather", "GET, HEAD"},
		{"GET", "/_tessera/api/fragments/weather/ttl", "DELETE, PUT"},
		{"POST", "/_tessera/api/fragments/weather/ttl", "DELETE, PUT"},
		{"GET", "/_tessera/api/purge", "POST"},
		{"PATCH", "/_tessera/api/purge", "POST"},
	} {
		st, hdr, body := s.do(tt.method, tt.path, "", bearer(token)...)
		allow := strings.Split(hdr.Get("Allow"), ", ")
		slices.Sort(allow)
		if st != 405 || strings.Join(allow, ", ") != tt.allow || !strings.Contains(body, "not allowed") {
			t.Errorf("%s %s: %d, Allow %q; want 405 with Allow %q\n%s", tt.method, tt.path, st, hdr.Get("Allow"), tt.allow, body)
		}
	}
}
