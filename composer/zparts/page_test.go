package zparts

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The page of the peers benchmark (bench/peers): its layout with three
// 3072-byte fragments, 10,134 bytes in all.

var fragmentWords = []string{
	"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
	"elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore",
	"et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam",
}

// benchFragment is the body the benchmark's fragment services answer with.
func benchFragment(name string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!--FRAG:%s:BEGIN--><section class="frag frag-%s" data-frag="%s"><h2>%s</h2><ul>`,
		name, name, name, strings.ToUpper(name[:1])+name[1:])
	suffix := fmt.Sprintf("</ul></section><!--FRAG:%s:END-->\n", name)
	for i := 0; ; i++ {
		w := make([]string, 0, 6)
		for j := range 6 {
			w = append(w, fragmentWords[(i*7+j*3+len(name))%len(fragmentWords)])
		}
		item := fmt.Sprintf(`<li data-i="%d">%s item %04d: %s</li>`, i, name, i, strings.Join(w, " "))
		if b.Len()+len(item)+len(suffix) > size {
			break
		}
		b.WriteString(item)
	}
	if r := size - b.Len() - len(suffix); r >= 7 {
		b.WriteString("<!--" + strings.Repeat("~", r-7) + "-->")
	} else if r > 0 {
		b.WriteString(strings.Repeat(" ", r))
	}
	b.WriteString(suffix)
	return b.Bytes()
}

type testPage struct {
	layout    [][]byte // static parts around the slots
	fragments [][]byte
	whole     []byte
}

var benchPage = sync.OnceValue(func() testPage {
	tmpl, err := os.ReadFile("testdata/layout.html")
	if err != nil {
		panic(err)
	}
	var p testPage
	rest := tmpl
	for _, name := range []string{"headlines", "weather", "shows"} {
		before, after, ok := bytes.Cut(rest, []byte("<!--@slot:"+name+"-->"))
		if !ok {
			panic("layout has no slot " + name)
		}
		p.layout = append(p.layout, before)
		p.fragments = append(p.fragments, benchFragment(name, 3072))
		rest = after
	}
	p.layout = append(p.layout, rest)
	for i, f := range p.fragments {
		p.whole = append(append(p.whole, p.layout[i]...), f...)
	}
	p.whole = append(p.whole, p.layout[3]...)
	return p
})

// pageBlocks is the page as the composer holds it: every part a block.
type pageBlocks struct {
	layout, fragments []*Block
}

func (p testPage) blocks() pageBlocks {
	var b pageBlocks
	for _, l := range p.layout {
		b.layout = append(b.layout, testBuilder().Build(l))
	}
	for _, f := range p.fragments {
		b.fragments = append(b.fragments, testBuilder().Build(f))
	}
	return b
}

// write writes the page; with rawLayout the layout's parts are written as
// request-time pieces instead of blocks.
func (b pageBlocks) write(w *Writer, p testPage, rawLayout bool) error {
	for i, l := range p.layout {
		var err error
		if rawLayout {
			_, err = w.Write(l)
		} else {
			err = w.WriteBlock(b.layout[i])
		}
		if err != nil {
			return err
		}
		if i < len(b.fragments) {
			if err := w.WriteBlock(b.fragments[i]); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

func gzipWhole(t testing.TB, p []byte, level int) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write(p)
	_ = zw.Close()
	return buf.Bytes()
}

// TestPageSize checks that a page stitched from blocks is no larger than
// 1.2 times the whole page compressed at gzip level 1, as nginx does per
// request, and reports the sizes.
func TestPageSize(t *testing.T) {
	p := benchPage()
	if len(p.whole) != 10134 {
		t.Fatalf("page is %d bytes, want the benchmark's 10134", len(p.whole))
	}
	b := p.blocks()
	size := func(enc Encoding, rawLayout bool) int {
		var buf bytes.Buffer
		if err := b.write(NewWriter(&buf, enc), p, rawLayout); err != nil {
			t.Fatal(err)
		}
		if got := decodePage(t, enc, buf.Bytes()); !bytes.Equal(got, p.whole) {
			t.Fatalf("%s page decodes to %d bytes", enc, len(got))
		}
		return buf.Len()
	}
	gz1 := len(gzipWhole(t, p.whole, 1))
	gz9 := len(gzipWhole(t, p.whole, 9))
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	zs := len(zenc.EncodeAll(p.whole, nil))
	t.Logf("page %d bytes; whole page: gzip -1 (Go) %d, gzip -9 (Go) %d, zstd default %d", len(p.whole), gz1, gz9, zs)
	if path, err := exec.LookPath("gzip"); err == nil {
		cmd := exec.Command(path, "-1", "-c", "-n")
		cmd.Stdin = bytes.NewReader(p.whole)
		if out, err := cmd.Output(); err == nil {
			t.Logf("whole page: gzip -1 (zlib, as nginx level 1) %d", len(out))
		}
	}
	// A zstd frame costs about 10 bytes of framing and its own literal
	// table, so a page of seven small frames misses the gzip target; it is
	// held to a looser bound so that it does not grow unnoticed.
	for _, c := range []struct {
		enc       Encoding
		rawLayout bool
		what      string
		limit     float64
	}{
		{Gzip, false, "7 blocks", 1.2},
		{Gzip, true, "3 fragment blocks + 4 layout pieces compressed per request", 1.2},
		{Zstd, false, "7 blocks", 1.3},
		{Zstd, true, "3 fragment blocks + 4 layout pieces compressed per request", 1.3},
	} {
		n := size(c.enc, c.rawLayout)
		ratio := float64(n) / float64(gz1)
		t.Logf("%s page of %s: %d bytes, %.3f× gzip -1 of the whole page", c.enc, c.what, n, ratio)
		if ratio > c.limit {
			t.Errorf("%s page of %s is %.3f× gzip -1, want at most %.1f×", c.enc, c.what, ratio, c.limit)
		}
	}
}
