package zparts

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// op is one step of writing a page: a block, a raw piece or a flush.
type op struct {
	kind byte // 'b' block, 'r' raw, 's' raw via WriteString, 'f' flush
	data []byte
}

func (o op) String() string {
	if o.kind == 'f' {
		return "flush"
	}
	return fmt.Sprintf("%c%d", o.kind, len(o.data))
}

var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	// A browser's limit, so that a frame asking for more fails here too.
	d, err := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	return d
})

// writePage writes ops in enc and returns the output and the raw page. At
// each flush it checks that the output so far decodes to the page so far.
func writePage(t testing.TB, b *Builder, enc Encoding, ops []op) (out, raw []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := AcquireWriter(&buf, enc)
	defer ReleaseWriter(w)
	for _, o := range ops {
		switch o.kind {
		case 'b':
			if err := w.WriteBlock(b.Build(o.data)); err != nil {
				t.Fatalf("WriteBlock: %v", err)
			}
		case 'r':
			if n, err := w.Write(o.data); err != nil || n != len(o.data) {
				t.Fatalf("Write = %d, %v; want %d", n, err, len(o.data))
			}
		case 's':
			if n, err := w.WriteString(string(o.data)); err != nil || n != len(o.data) {
				t.Fatalf("WriteString = %d, %v; want %d", n, err, len(o.data))
			}
		case 'f':
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if got := decodePrefix(t, enc, buf.Bytes()); !bytes.Equal(got, raw) {
				t.Fatalf("after flush, output decodes to %d bytes, want %d", len(got), len(raw))
			}
		}
		raw = append(raw, o.data...)
	}
	if got := w.Len(); got != int64(len(raw)) {
		t.Fatalf("Len = %d, want %d", got, len(raw))
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes(), raw
}

// decodePrefix decodes a page that is not closed yet.
func decodePrefix(t testing.TB, enc Encoding, out []byte) []byte {
	t.Helper()
	switch enc {
	case Gzip:
		if len(out) == 0 {
			return nil
		}
		if !bytes.HasPrefix(out, gzipHeader[:]) {
			t.Fatalf("output starts %x, not a gzip header", out[:min(len(out), 10)])
		}
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(out[10:])))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("inflate open stream: %v, want unexpected EOF", err)
		}
		return got
	case Zstd:
		got, err := zstdDecoder().DecodeAll(out, nil)
		if err != nil {
			t.Fatalf("zstd prefix: %v", err)
		}
		return got
	}
	return out
}

// decodePage decodes a closed page and checks its framing.
func decodePage(t testing.TB, enc Encoding, out []byte) []byte {
	t.Helper()
	switch enc {
	case Gzip:
		r := bytes.NewReader(out)
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip header: %v", err)
		}
		zr.Multistream(false) // one member, nothing after it
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		if r.Len() != 0 {
			t.Fatalf("%d bytes after the gzip member", r.Len())
		}
		return got
	case Zstd:
		got, err := zstdDecoder().DecodeAll(out, nil)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		// The streaming decoder, as a client reads a response.
		d, err := zstd.NewReader(bytes.NewReader(out), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		streamed, err := io.ReadAll(d)
		if err != nil || !bytes.Equal(streamed, got) {
			t.Fatalf("zstd stream: %d bytes, %v; DecodeAll gave %d", len(streamed), err, len(got))
		}
		return got
	}
	return out
}

var testBuilder = sync.OnceValue(func() *Builder {
	b, err := NewBuilder(BuilderOptions{Encodings: []Encoding{Identity, Gzip, Zstd}})
	if err != nil {
		panic(err)
	}
	return b
})

// html returns n bytes of HTML-like text, different for each seed.
func html(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "news", "weather", "show", "today", "update"}
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `<li class="item item-%d"><a href="/n/%d">%s %s</a></li>`, i%5, rng.IntN(1000),
			words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func noise(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 11))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	return p
}

func blk(p []byte) op { return op{'b', p} }
func rw(p []byte) op  { return op{'r', p} }
func str(s string) op { return op{'s', []byte(s)} }

var flush = op{kind: 'f'}

func pageCases() []struct {
	name string
	ops  []op
} {
	return []struct {
		name string
		ops  []op
	}{
		{"empty page", nil},
		{"only flushes", []op{flush, flush}},
		{"one block", []op{blk(html(1, 3000))}},
		{"one raw piece", []op{rw([]byte("<p>hello</p>"))}},
		{"empty parts", []op{blk(nil), rw(nil), blk([]byte{}), str(""), flush, blk(nil)}},
		{"typical page", []op{
			blk(html(1, 1200)), str(`<script nonce="r4nd0m">`), blk(html(2, 3072)), rw([]byte(`<p>Hello, Ann</p>`)),
			blk(html(3, 3072)), rw(html(4, 300)), blk(html(5, 3072)), str("</body></html>\n"),
		}},
		{"streamed with flushes", []op{
			blk(html(1, 1200)), flush, rw([]byte("<div>")), flush, blk(html(2, 3072)), flush, flush, rw([]byte("</div>")), flush,
		}},
		{"raw runs between blocks", []op{rw([]byte("a")), rw([]byte("b")), str("c"), blk(html(6, 10)), rw(html(7, 70)), rw(html(8, 70))}},
		{"stored threshold", []op{rw(html(9, storedMax)), blk(html(10, 1)), rw(html(11, storedMax+1)), blk([]byte("x"))}},
		{"incompressible", []op{blk(noise(1, 5000)), rw(noise(2, 5000)), blk(noise(3, 1))}},
		{"large raw run", []op{rw(html(12, runMax-1)), rw(html(13, 3)), rw(html(14, runMax+10)), flush, rw(noise(4, 3*runMax))}},
		{"1 MB parts", []op{blk(html(15, 1<<20)), rw(html(16, 1<<20)), blk(noise(5, 1<<20)), flush}},
	}
}

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tt := range pageCases() {
		for _, enc := range []Encoding{Identity, Gzip, Zstd} {
			t.Run(tt.name+"/"+enc.String(), func(t *testing.T) {
				t.Parallel()
				out, raw := writePage(t, testBuilder(), enc, tt.ops)
				if got := decodePage(t, enc, out); !bytes.Equal(got, raw) {
					t.Fatalf("decoded %d bytes, want %d (ops %v)", len(got), len(raw), tt.ops)
				}
			})
		}
	}
}

func TestGzipFraming(t *testing.T) {
	t.Parallel()
	out, raw := writePage(t, testBuilder(), Gzip, []op{blk(html(1, 500)), rw([]byte("tail"))})
	if !bytes.HasPrefix(out, gzipHeader[:]) {
		t.Fatalf("header %x", out[:10])
	}
	trailer := out[len(out)-8:]
	zr, err := gzip.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err) // the reader checks CRC-32 and ISIZE
	}
	if !bytes.Equal(out[len(out)-10:len(out)-8], finalDeflate[:]) {
		t.Errorf("final block %x, want %x", out[len(out)-10:len(out)-8], finalDeflate)
	}
	if got := int(trailer[4]) | int(trailer[5])<<8 | int(trailer[6])<<16 | int(trailer[7])<<24; got != len(raw) {
		t.Errorf("ISIZE %d, want %d", got, len(raw))
	}
}

func TestEmptyPages(t *testing.T) {
	t.Parallel()
	for _, enc := range []Encoding{Gzip, Zstd} {
		var buf bytes.Buffer
		w := NewWriter(&buf, enc)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decodePage(t, enc, buf.Bytes()); len(got) != 0 || buf.Len() == 0 {
			t.Errorf("%s: empty page is %d bytes decoding to %d", enc, buf.Len(), len(got))
		}
	}
	// The empty zstd frame constant is what the encoder itself writes.
	e, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.EncodeAll(nil, nil); !bytes.Equal(got, emptyZstdFrame) {
		t.Errorf("empty frame %x, encoder writes %x", emptyZstdFrame, got)
	}
}

// TestCommandLineTools decodes pages with the gzip and zstd programs, as a
// check independent of Go's decoders.
func TestCommandLineTools(t *testing.T) {
	t.Parallel()
	ops := pageCases()[5].ops // typical page
	ops = append(ops, flush, blk(noise(9, 70000)), rw(html(3, 100000)))
	for _, tool := range []struct {
		enc  Encoding
		name string
		args []string
	}{
		{Gzip, "gzip", []string{"-d", "-c"}},
		{Zstd, "zstd", []string{"-d", "-c", "-q"}},
	} {
		t.Run(tool.name, func(t *testing.T) {
			path, err := exec.LookPath(tool.name)
			if err != nil {
				t.Skipf("%s not installed", tool.name)
			}
			out, raw := writePage(t, testBuilder(), tool.enc, ops)
			cmd := exec.Command(path, tool.args...)
			cmd.Stdin = bytes.NewReader(out)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v: %s", tool.name, err, stderr.String())
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("%s decoded %d bytes, want %d", tool.name, len(got), len(raw))
			}
		})
	}
}

func TestWriteBlockMissingForm(t *testing.T) {
	t.Parallel()
	b := NewBlock([]byte("no identity form"))
	var buf bytes.Buffer
	w := NewWriter(&buf, Identity)
	if err := w.WriteBlock(b); !errors.Is(err, ErrMissingForm) {
		t.Fatalf("WriteBlock = %v, want ErrMissingForm", err)
	}
	onlyGzip, err := NewBuilder(BuilderOptions{Encodings: []Encoding{Gzip}})
	if err != nil {
		t.Fatal(err)
	}
	w.Reset(&buf, Zstd)
	if err := w.WriteBlock(onlyGzip.Build([]byte("x"))); !errors.Is(err, ErrMissingForm) {
		t.Fatalf("WriteBlock = %v, want ErrMissingForm", err)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes", buf.Len())
	}
	// The writer is still usable: the caller falls back to the raw bytes.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decodePage(t, Zstd, buf.Bytes()); string(got) != "x" {
		t.Errorf("decoded %q", got)
	}
}

func TestWriterClosed(t *testing.T) {
	t.Parallel()
	for _, enc := range []Encoding{Identity, Gzip, Zstd} {
		w := NewWriter(io.Discard, enc)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("%s: second Close = %v", enc, err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Write after Close = %v", enc, err)
		}
		if err := w.WriteBlock(NewBlock(nil)); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: WriteBlock after Close = %v", enc, err)
		}
		if err := w.Flush(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Flush after Close = %v", enc, err)
		}
	}
}

type failWriter struct{ after int }

var errBroken = errors.New("broken pipe")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errBroken
	}
	f.after--
	return len(p), nil
}

func TestWriterStickyError(t *testing.T) {
	t.Parallel()
	for _, enc := range []Encoding{Identity, Gzip, Zstd} {
		w := NewWriter(&failWriter{after: 1}, enc)
		b := testBuilder().Build(html(1, 100))
		_ = w.WriteBlock(b)
		_, _ = w.Write([]byte("piece"))
		err := w.Flush()
		if enc == Identity {
			err = w.WriteBlock(b)
		}
		if !errors.Is(err, errBroken) {
			t.Fatalf("%s: got %v, want the destination's error", enc, err)
		}
		if err := w.Close(); !errors.Is(err, errBroken) {
			t.Errorf("%s: Close = %v, want the destination's error", enc, err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, errBroken) {
			t.Errorf("%s: Write = %v, want the destination's error", enc, err)
		}
	}
}

func TestFlushFlushesDestination(t *testing.T) {
	t.Parallel()
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, 4096)
	w := NewWriter(bw, Gzip)
	if _, err := w.Write([]byte("<html>")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if bw.Buffered() != 0 || sink.Len() == 0 {
		t.Errorf("after Flush: %d bytes buffered, %d sent", bw.Buffered(), sink.Len())
	}
	if got := decodePrefix(t, Gzip, sink.Bytes()); string(got) != "<html>" {
		t.Errorf("client sees %q", got)
	}
}

func TestUnknownEncodingIsIdentity(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, Encoding(42))
	if w.Encoding() != Identity {
		t.Fatalf("Encoding = %s", w.Encoding())
	}
	_, _ = w.WriteString("plain")
	_ = w.Close()
	if buf.String() != "plain" {
		t.Errorf("wrote %q", buf.String())
	}
}

// FuzzWriter writes pages from random part boundaries, sizes and kinds,
// with flushes, and checks that each encoding decodes to the raw page.
func FuzzWriter(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5}, uint64(1))
	f.Add([]byte{0x10, 0x21, 0x32, 0xf3, 0x44, 0xff}, uint64(2))
	f.Add([]byte{0xff, 0xff, 0x00, 0x03}, uint64(3))
	f.Fuzz(func(t *testing.T, script []byte, seed uint64) {
		if len(script) > 24 {
			script = script[:24]
		}
		var ops []op
		big := 0
		for i, c := range script {
			// The low two bits choose the kind, the rest the size class.
			var n int
			switch c >> 2 & 7 {
			case 0:
				n = 0
			case 1:
				n = 1
			case 2:
				n = int(c) % 64
			case 3:
				n = storedMax + int(c)
			case 4:
				n = 1000 + int(c)*13
			case 5:
				n = runMax - 3 + int(c)%7
			case 6:
				n = 20000 + int(c)*100
			case 7:
				if big++; big > 2 {
					n = int(c)
				} else {
					n = 1 << 20
				}
			}
			var data []byte
			if c>>5&1 == 1 {
				data = noise(seed+uint64(i), n)
			} else {
				data = html(seed+uint64(i), n)
			}
			switch c & 3 {
			case 0:
				ops = append(ops, blk(data))
			case 1:
				ops = append(ops, rw(data))
			case 2:
				ops = append(ops, str(string(data)))
			case 3:
				ops = append(ops, flush)
			}
		}
		for _, enc := range []Encoding{Identity, Gzip, Zstd} {
			out, raw := writePage(t, fuzzBuilder(), enc, ops)
			if got := decodePage(t, enc, out); !bytes.Equal(got, raw) {
				t.Fatalf("%s: decoded %d bytes, want %d (ops %v)", enc, len(got), len(raw), ops)
			}
		}
	})
}

// fuzzBuilder trades ratio for speed: the framing is the same at every
// level.
var fuzzBuilder = sync.OnceValue(func() *Builder {
	b, err := NewBuilder(BuilderOptions{Encodings: []Encoding{Identity, Gzip, Zstd}, GzipLevel: 6, ZstdLevel: zstd.SpeedDefault})
	if err != nil {
		panic(err)
	}
	return b
})

// TestSyncLetsGoInflaterSeeThePageSoFar: after Sync, Go's gzip reader
// returns every byte written, while the page is still open.
func TestSyncLetsGoInflaterSeeThePageSoFar(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewWriter(pw, Gzip)
	part := bytes.Repeat([]byte("<p>static part of the page</p>"), 20)
	go func() {
		_ = w.WriteBlock(NewBlock(part))
		_, _ = w.Write([]byte("<b>piece</b>"))
		_ = w.Sync()
	}()
	zr, err := gzip.NewReader(pr)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, part...), "<b>piece</b>"...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %q, %v; want the page so far", got, err)
	}
	_ = pw.Close()
}
