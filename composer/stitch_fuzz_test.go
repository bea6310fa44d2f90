package composer

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/tessera-dev/tessera/composer/zparts"
)

// FuzzStitch writes a page cut at random boundaries into parts, some from
// precompressed blocks and some raw, with flushes between some of them,
// and checks that the gzip and zstd pages decode to the parts joined.
func FuzzStitch(f *testing.F) {
	f.Add([]byte("<html><body>hello</body></html>"), uint64(1))
	f.Add([]byte{}, uint64(2))
	f.Add(bytes.Repeat([]byte("<li>row</li>"), 1<<20/12), uint64(3)) // a 1 MB page
	f.Fuzz(func(t *testing.T, page []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var parts [][]byte
		for rest := page; ; {
			n := 0
			if len(rest) > 0 && rng.IntN(8) > 0 {
				n = rng.IntN(len(rest) + 1)
			}
			parts = append(parts, rest[:n])
			rest = rest[n:]
			if len(rest) == 0 || len(parts) > 64 {
				parts = append(parts, rest)
				break
			}
		}
		blocks := make([]*zparts.Block, len(parts))
		for i, p := range parts {
			if rng.IntN(2) == 0 && len(p) < 256<<10 {
				blocks[i] = zparts.NewBlock(p)
			}
		}
		for _, enc := range []zparts.Encoding{zparts.Gzip, zparts.Zstd} {
			var buf bytes.Buffer
			out := acquireOut(&buf, nil, enc)
			for i, p := range parts {
				out.static(p, blocks[i])
				if rng.IntN(4) == 0 {
					out.flush()
				}
			}
			out.close()
			err := out.err
			out.release()
			if err != nil {
				t.Fatal(err)
			}
			var r io.Reader
			if enc == zparts.Gzip {
				zr, err := gzip.NewReader(&buf)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			} else {
				zr, err := zstd.NewReader(&buf)
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			if !bytes.Equal(got, page) {
				t.Fatalf("%s page of %d parts decodes to %d bytes, want %d", enc, len(parts), len(got), len(page))
			}
		}
	})
}
