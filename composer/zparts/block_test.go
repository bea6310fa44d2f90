package zparts

import (
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestBlockForms(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 100, 1023, 1024, 1025, 3072, 128 << 10, 1 << 20} {
		raw := html(uint64(n), n)
		b := testBuilder().Build(raw)
		if b.Len() != n || b.CRC32() != crc32.ChecksumIEEE(raw) {
			t.Fatalf("%d bytes: Len %d, CRC32 %08x", n, b.Len(), b.CRC32())
		}
		for _, e := range []Encoding{Identity, Gzip, Zstd} {
			if !b.Has(e) {
				t.Fatalf("%d bytes: no %s form", n, e)
			}
		}
		if !bytes.Equal(b.Bytes(Identity), raw) {
			t.Errorf("%d bytes: identity form differs", n)
		}
		// The deflate form stands alone: it inflates to raw, with no final
		// block.
		def := b.Bytes(Gzip)
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(def)))
		if n > 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes: deflate form ends %x, reading gave %v", n, def[max(0, len(def)-5):], err)
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%d bytes: deflate form inflates to %d bytes", n, len(got))
		}
		if n == 0 {
			if len(def) != 0 || len(b.Bytes(Zstd)) != 0 {
				t.Errorf("empty part has forms of %d and %d bytes", len(def), len(b.Bytes(Zstd)))
			}
			continue
		}
		if err := checkFrame(b.Bytes(Zstd), n); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
		got, err = zstdDecoder().DecodeAll(b.Bytes(Zstd), nil)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%d bytes: zstd form decodes to %d bytes, %v", n, len(got), err)
		}
	}
}

// TestZstdWindowOverEightMB checks that a part larger than the browser
// window limit still gets a frame a browser accepts.
func TestZstdWindowOverEightMB(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 9 MB")
	}
	t.Parallel()
	b, err := NewBuilder(BuilderOptions{Encodings: []Encoding{Zstd}, ZstdLevel: zstd.SpeedFastest})
	if err != nil {
		t.Fatal(err)
	}
	raw := noise(1, 9<<20)
	blk := b.Build(raw)
	var h zstd.Header
	if err := h.Decode(blk.Bytes(Zstd)); err != nil {
		t.Fatal(err)
	}
	if h.SingleSegment || h.WindowSize > maxZstdWindow || h.FrameContentSize != uint64(len(raw)) {
		t.Fatalf("header: single segment %v, window %d, content size %d", h.SingleSegment, h.WindowSize, h.FrameContentSize)
	}
	got, err := zstdDecoder().DecodeAll(blk.Bytes(Zstd), nil)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("decoded %d bytes, %v", len(got), err)
	}
}

func TestNewBuilderOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []BuilderOptions{
		{GzipLevel: -1},
		{GzipLevel: 10},
		{Encodings: []Encoding{Gzip, 7}},
		{ZstdLevel: zstd.EncoderLevel(99)},
	} {
		if _, err := NewBuilder(o); err == nil {
			t.Errorf("NewBuilder(%+v) succeeded", o)
		}
	}
	b, err := NewBuilder(BuilderOptions{Encodings: []Encoding{}})
	if err != nil {
		t.Fatal(err)
	}
	if blk := b.Build([]byte("x")); blk.Has(Identity) || blk.Has(Gzip) || blk.Has(Zstd) || blk.Len() != 1 {
		t.Errorf("a builder with no encodings built forms %b", blk.has)
	}
	if blk := NewBlock([]byte("x")); blk.Has(Identity) || !blk.Has(Gzip) || !blk.Has(Zstd) {
		t.Errorf("NewBlock built forms %b, want gzip and zstd", blk.has)
	}
	if NewBlock(nil).Has(Encoding(9)) || NewBlock(nil).Bytes(Encoding(9)) != nil {
		t.Error("a block has a form for an unknown encoding")
	}
}

func TestBuildDoesNotRetainRaw(t *testing.T) {
	t.Parallel()
	raw := []byte("<p>reused buffer</p>")
	b := testBuilder().Build(raw)
	copy(raw, "XXXXXXXXXXXXXXXXXXXX")
	if string(b.Bytes(Identity)) != "<p>reused buffer</p>" {
		t.Errorf("identity form follows the caller's buffer: %q", b.Bytes(Identity))
	}
}
