package zparts

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkPiece is the request-time cost of one raw piece between blocks.
func BenchmarkPiece(b *testing.B) {
	p := benchPage()
	sep := testBuilder().Build(nil)
	for _, piece := range p.layout {
		for _, enc := range []Encoding{Gzip, Zstd} {
			b.Run(fmt.Sprintf("%s/%dB", enc, len(piece)), func(b *testing.B) {
				b.ReportAllocs()
				w := NewWriter(io.Discard, enc)
				for b.Loop() {
					_, _ = w.Write(piece)
					_ = w.WriteBlock(sep)
				}
			})
		}
	}
}
