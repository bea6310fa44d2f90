package protocol

import (
	"errors"
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

func TestSignedRequestVerifies(t *testing.T) {
	now := time.Unix(1_764_000_000, 0)
	req := newRequest("GET", "http://shows.local/?view=row&limit=4")
	SignRequest(req, testSecret, now)
	var got fasthttp.Request
	got.Header.SetMethod("GET")
	got.Header.SetRequestURI("/?view=row&limit=4")
	got.Header.SetBytesV(HeaderDate, req.Header.Peek(HeaderDate))
	got.Header.SetBytesV(HeaderSignature, req.Header.Peek(HeaderSignature))
	if err := VerifySignature(&got, testSecret, now.Add(30*time.Second), DefaultReplayWindow); err != nil {
		t.Fatalf("verify: %v", err)
	}
	got.Header.SetRequestURI("/?view=row&limit=5")
	if err := VerifySignature(&got, testSecret, now, DefaultReplayWindow); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("tampered query accepted: %v", err)
	}
	if err := VerifySignature(&got, testSecret, now.Add(2*time.Minute), DefaultReplayWindow); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("replayed request accepted: %v", err)
	}
}

func TestBearer(t *testing.T) {
	req := newRequest("GET", "/")
	SetBearer(req, "tok")
	if err := VerifyBearer(req, "tok"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBearer(req, "other"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong token accepted: %v", err)
	}
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_764_000_000, 0)
	good := newRequest("GET", "http://shows.local/?view=row")
	SignRequest(good, testSecret, now)
	f.Add("/?view=row", string(good.Header.Peek(HeaderDate)), string(good.Header.Peek(HeaderSignature)), "Bearer x")
	f.Add("/", "", "", "")
	f.Add("http://h/p?q#f", "99999999999999999999", "v1=zz", "bearer")
	f.Add("/?a=%zz", "1764000000", "v1="+strings.Repeat("0", 64), "Bearer  ")
	f.Fuzz(func(t *testing.T, target, date, sig, authz string) {
		_, _ = parseDate([]byte(date))
		_, _ = parseSignature([]byte(sig))
		_, _ = bearerToken([]byte(authz))

		var req fasthttp.Request
		req.Header.SetRequestURI(target)
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderSignature, sig)
		req.Header.Set("Authorization", authz)
		err := VerifySignature(&req, testSecret, now, DefaultReplayWindow)
		if err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("error %v does not wrap ErrUnauthorized", err)
		}
		if err == nil {
			// Accepted: the signature must be the real one for this target.
			path, query := splitTarget(requestTarget(&req))
			d, _ := parseDate([]byte(date))
			if want := Sign(testSecret, "GET", string(path), string(query), d); want != sig {
				t.Fatalf("accepted forged signature %q for %q", sig, target)
			}
		}
		if err := VerifyBearer(&req, "x"); err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("error %v does not wrap ErrUnauthorized", err)
		}
	})
}
