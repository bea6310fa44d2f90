//go:build !race

package zparts

import (
	"bytes"
	"testing"
)

// TestPageAllocs pins the allocations of writing a page in steady state:
// pooled writers and compressors, so none.
func TestPageAllocs(t *testing.T) {
	p := benchPage()
	blocks := p.blocks()
	var out bytes.Buffer
	out.Grow(64 << 10)
	for _, enc := range []Encoding{Identity, Gzip, Zstd} {
		for _, rawLayout := range []bool{false, true} {
			allocs := testing.AllocsPerRun(200, func() {
				out.Reset()
				w := AcquireWriter(&out, enc)
				if err := blocks.write(w, p, rawLayout); err != nil {
					t.Fatal(err)
				}
				ReleaseWriter(w)
			})
			if allocs > 0 {
				t.Errorf("%s page (raw layout %v): %.1f allocations, want 0", enc, rawLayout, allocs)
			}
		}
	}
	h := []byte("gzip, deflate, br, zstd")
	if allocs := testing.AllocsPerRun(100, func() { Negotiate(h) }); allocs > 0 {
		t.Errorf("Negotiate: %.1f allocations", allocs)
	}
}
