package upstream_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer/upstream"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		in   string
		want upstream.CacheControl
		ttl  time.Duration
	}{
		{"public, max-age=60", upstream.CacheControl{MaxAge: time.Minute, HasMaxAge: true, Public: true}, time.Minute},
		{"max-age=60, s-maxage=10", upstream.CacheControl{MaxAge: time.Minute, HasMaxAge: true, SMaxAge: 10 * time.Second, HasSMax: true}, 10 * time.Second},
		{`max-age="30", stale-while-revalidate=5, stale-if-error=600`, upstream.CacheControl{MaxAge: 30 * time.Second, HasMaxAge: true, SWR: 5 * time.Second, SIE: 10 * time.Minute}, 30 * time.Second},
		{"no-store", upstream.CacheControl{NoStore: true}, 0},
		{"max-age=60, no-cache", upstream.CacheControl{MaxAge: time.Minute, HasMaxAge: true, NoCache: true}, 0},
		{"max-age=-1", upstream.CacheControl{}, 0},
		{"max-age=abc, private", upstream.CacheControl{Private: true}, 0},
		{"max-age=60, must-revalidate, stale-if-error=60", upstream.CacheControl{MaxAge: time.Minute, HasMaxAge: true, MustReval: true}, time.Minute},
		{"", upstream.CacheControl{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := upstream.ParseCacheControl(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("-want +got\n%s", d)
			}
			if got.TTL() != tt.ttl {
				t.Fatalf("TTL %s, want %s", got.TTL(), tt.ttl)
			}
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	f.Add("public, max-age=60, stale-while-revalidate=30")
	f.Add(`s-maxage="5",,, no-store`)
	f.Fuzz(func(t *testing.T, h string) {
		cc := upstream.ParseCacheControl(h)
		if cc.TTL() < 0 || cc.SWR < 0 || cc.SIE < 0 {
			t.Fatalf("negative duration from %q: %+v", h, cc)
		}
	})
}

// BenchmarkCacheControl parses a typical fragment Cache-Control header.
func BenchmarkCacheControl(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = upstream.ParseCacheControl("public, max-age=60, stale-while-revalidate=30, stale-if-error=600")
	}
}
