package fragment

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

var testSecret = []byte("s3cr3t-key-for-tests-only")

func newRequest(method, uri string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	return req
}

// received turns a request built by a client into the request a server
// parses from the wire, so the test checks what the server would see.
func received(t testing.TB, req *fasthttp.Request) *fasthttp.Request {
	t.Helper()
	var out fasthttp.Request
	if err := out.Read(bufioReader(req.String())); err != nil {
		t.Fatalf("read request: %v", err)
	}
	return &out
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_764_000_000, 0)
	tests := []struct {
		name   string
		build  func() *fasthttp.Request
		now    time.Time
		reason string // empty: accepted
	}{
		{
			name: "good",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=grid&limit=12")
				SignRequest(req, testSecret, now)
				return req
			},
			now: now,
		},
		{
			name: "good at the edge of the window",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now.Add(-DefaultReplayWindow))
				return req
			},
			now: now,
		},
		{
			name: "good with query args added after the uri",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/")
				req.URI().QueryArgs().Add("view", "grid")
				req.URI().QueryArgs().Add("q", "a b&c")
				SignRequest(req, testSecret, now)
				return req
			},
			now: now,
		},
		{
			name:   "missing headers",
			build:  func() *fasthttp.Request { return newRequest("GET", "http://shows.local/?view=row") },
			now:    now,
			reason: "missing signature",
		},
		{
			name: "bad signature",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, []byte("another-secret"), now)
				return req
			},
			now:    now,
			reason: "signature mismatch",
		},
		{
			name: "tampered query",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now)
				req.SetRequestURI("http://shows.local/?view=grid")
				return req
			},
			now:    now,
			reason: "signature mismatch",
		},
		{
			name: "tampered path",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now)
				req.SetRequestURI("http://shows.local/other?view=row")
				return req
			},
			now:    now,
			reason: "signature mismatch",
		},
		{
			name: "tampered method",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now)
				req.Header.SetMethod("DELETE")
				return req
			},
			now:    now,
			reason: "signature mismatch",
		},
		{
			name: "tampered date",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now)
				req.Header.Set(HeaderDate, strconv.FormatInt(now.Unix()+1, 10))
				return req
			},
			now:    now,
			reason: "signature mismatch",
		},
		{
			name: "too old",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now.Add(-DefaultReplayWindow-time.Second))
				return req
			},
			now:    now,
			reason: "replay window",
		},
		{
			name: "from the future",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/?view=row")
				SignRequest(req, testSecret, now.Add(2*time.Minute))
				return req
			},
			now:    now,
			reason: "replay window",
		},
		{
			name: "malformed date",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/")
				SignRequest(req, testSecret, now)
				req.Header.Set(HeaderDate, "-1764000000")
				return req
			},
			now:    now,
			reason: "malformed date",
		},
		{
			name: "malformed signature",
			build: func() *fasthttp.Request {
				req := newRequest("GET", "http://shows.local/")
				SignRequest(req, testSecret, now)
				req.Header.Set(HeaderSignature, "v2=abcd")
				return req
			},
			now:    now,
			reason: "malformed signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := received(t, tt.build())
			err := VerifySignature(req, testSecret, tt.now, DefaultReplayWindow)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("VerifySignature: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("VerifySignature: %v, want ErrUnauthorized", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestSignIsDocumentedFormula(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_764_000_000, 0)
	req := newRequest("GET", "http://shows.local/?view=grid&limit=3")
	SignRequest(req, testSecret, now)
	want := Sign(testSecret, "GET", "/", "view=grid&limit=3", now.Unix())
	if got := string(req.Header.Peek(HeaderSignature)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if got := string(req.Header.Peek(HeaderDate)); got != "1764000000" {
		t.Errorf("date %q", got)
	}
}

func TestVerifyBearer(t *testing.T) {
	t.Parallel()
	const token = "weather-token-123"
	tests := []struct {
		name   string
		header string
		ok     bool
	}{
		{"good", "Bearer " + token, true},
		{"scheme is case-insensitive", "bearer " + token, true},
		{"missing", "", false},
		{"empty token", "Bearer ", false},
		{"wrong token", "Bearer nope", false},
		{"prefix of token", "Bearer " + token[:5], false},
		{"token plus suffix", "Bearer " + token + "x", false},
		{"basic scheme", "Basic " + token, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := newRequest("GET", "http://weather.local/")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			err := VerifyBearer(req, token)
			if tt.ok != (err == nil) {
				t.Fatalf("VerifyBearer(%q) = %v, want ok=%v", tt.header, err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestSetBearer(t *testing.T) {
	t.Parallel()
	req := newRequest("GET", "http://weather.local/")
	SetBearer(req, "abc")
	if err := BearerAuth("abc").Verify(received(t, req)); err != nil {
		t.Fatal(err)
	}
}

func TestAuthNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	for _, a := range []Auth{BearerAuth("tok-visible?"), HMACAuth([]byte("key-visible?"))} {
		for _, s := range []string{
			a.String(), a.GoString(), a.LogValue().String(),
			sprintf("%v", a), sprintf("%+v", a), sprintf("%#v", a),
			sprintf("%+v", struct{ A Auth }{a}),
		} {
			if strings.Contains(s, "visible") {
				t.Errorf("%q shows a secret", s)
			}
		}
	}
}

func TestAuthValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		auth Auth
		ok   bool
	}{
		{"zero", Auth{}, true},
		{"none", NoAuth(), true},
		{"bearer", BearerAuth("t"), true},
		{"bearer without token", BearerAuth(""), false},
		{"hmac", HMACAuth([]byte("k")), true},
		{"hmac without secret", HMACAuth(nil), false},
		{"negative window", Auth{Mode: AuthHMAC, Secret: []byte("k"), Window: -time.Second}, false},
		{"unknown mode", Auth{Mode: "basic"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.auth.Validate(); tt.ok != (err == nil) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
