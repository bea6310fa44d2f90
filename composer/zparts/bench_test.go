package zparts

import (
	"bytes"
	"compress/gzip"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkPage writes the benchmark page (10,134 bytes): its three
// fragments as blocks and its four layout parts either as request-time
// pieces or as blocks. BenchmarkWholePage is the baseline: the page
// compressed per request at gzip level 1, as nginx does.
func BenchmarkPage(b *testing.B) {
	p := benchPage()
	blocks := p.blocks()
	for _, enc := range []Encoding{Gzip, Zstd, Identity} {
		for _, c := range []struct {
			name      string
			rawLayout bool
		}{{"3blocks+4pieces", true}, {"7blocks", false}} {
			b.Run(enc.String()+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p.whole)))
				var out bytes.Buffer
				out.Grow(len(p.whole))
				for b.Loop() {
					out.Reset()
					w := AcquireWriter(&out, enc)
					if err := blocks.write(w, p, c.rawLayout); err != nil {
						b.Fatal(err)
					}
					ReleaseWriter(w)
				}
				b.ReportMetric(float64(out.Len()), "B/page")
			})
		}
	}
}

func BenchmarkWholePage(b *testing.B) {
	p := benchPage()
	b.Run("stdlib-gzip-1", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p.whole)))
		var out bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
		for b.Loop() {
			out.Reset()
			zw.Reset(&out) // pooled, as a server would
			_, _ = zw.Write(p.whole)
			_ = zw.Close()
		}
		b.ReportMetric(float64(out.Len()), "B/page")
	})
	b.Run("klauspost-gzip-1", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(p.whole)))
		var out bytes.Buffer
		zw, _ := kgzip.NewWriterLevel(&out, kgzip.BestSpeed)
		for b.Loop() {
			out.Reset()
			zw.Reset(&out)
			_, _ = zw.Write(p.whole)
			_ = zw.Close()
		}
		b.ReportMetric(float64(out.Len()), "B/page")
	})
}

// BenchmarkBuild is the one-off cost of a block for a 3 KB fragment.
func BenchmarkBuild(b *testing.B) {
	frag := benchPage().fragments[0]
	b.ReportAllocs()
	b.SetBytes(int64(len(frag)))
	for b.Loop() {
		NewBlock(frag)
	}
}

func BenchmarkDecodeBlock(b *testing.B) {
	data, _ := NewBlock(benchPage().fragments[0]).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBlock(data); err != nil {
			b.Fatal(err)
		}
	}
}
