package composer_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// rawGet fetches path with Accept-Encoding ae, without the transport's own
// decompression, and returns the response and its body as sent.
func (e *env) rawGet(path, ae string) (*http.Response, []byte) {
	e.t.Helper()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.Header.Set("Accept-Encoding", ae)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s decode: %v", enc, err)
	}
	return out
}

func TestCompressedPageDecodesToTheSameBytes(t *testing.T) {
	tests := []struct {
		name   string
		frag   map[string]string
		mutate func(string) string
		hold   bool
	}{
		{"whole, from cache", nil, func(s string) string {
			return strings.Replace(s, "layout: page.html\n", "layout: page.html\n    stream: never\n", 1)
		}, false},
		{"streamed, document order", map[string]string{"b": "ttl: 0s\ntimeout: 5s"}, func(s string) string { return documentOrder(streamAlways(s)) }, true},
		{"streamed, out of order", map[string]string{"b": "ttl: 0s\ntimeout: 5s"}, streamAlways, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.frag, tt.mutate)
			e.get("/")
			e.waitCached(2)
			get := func(ae string) (*http.Response, []byte) {
				if !tt.hold {
					return e.rawGet("/", ae)
				}
				e.b.Hold()
				go func() { time.Sleep(20 * time.Millisecond); e.b.Release() }()
				return e.rawGet("/", ae)
			}
			_, plain := get("identity")
			// Heartbeat newlines, and which late slot came first, depend on
			// timing; nothing else may differ.
			norm := func(b []byte) string { return applyPatches(t, strings.ReplaceAll(string(b), "\n", "")) }
			for _, enc := range []string{"gzip", "zstd"} {
				resp, body := get(enc)
				if got := resp.Header.Get("Content-Encoding"); got != enc {
					t.Fatalf("Content-Encoding %q, want %s", got, enc)
				}
				if v := resp.Header.Get("Vary"); !strings.Contains(v, "Accept-Encoding") {
					t.Fatalf("Vary %q", v)
				}
				if got := decode(t, enc, body); norm(got) != norm(plain) {
					t.Fatalf("%s page decodes to\n%s\nwant\n%s", enc, got, plain)
				}
			}
		})
	}
}

func TestOtherRoutesCompress(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.rawGet("/metrics", "gzip")
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("/metrics Content-Encoding %q, want gzip", got)
	}
	if !strings.Contains(string(decode(t, "gzip", body)), "tessera_") {
		t.Fatal("/metrics does not decode to the metrics")
	}
}
