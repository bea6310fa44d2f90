package zparts

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Block is one part of a page compressed ahead of time: a layout's static
// part or a cached fragment body. It holds the part's length and CRC-32 and
// up to three forms of it:
//
//   - Gzip: deflate blocks from a fresh compressor, with no final block,
//     ended on a byte boundary (by a sync flush or by padding with empty
//     blocks), so the form refers to nothing before it and concatenates
//     with other such forms;
//   - Zstd: one complete zstd frame with its content size and a window of
//     at most 8 MB;
//   - Identity: the raw bytes, for clients that accept no compression.
//
// A Block is immutable and safe for concurrent use.
type Block struct {
	n     int
	crc   uint32
	shift uint32 // crcShift(n), so that a Writer folds the CRC in one step
	has   uint8  // bit e set when the form for Encoding e is present
	form  [numEncodings][]byte
}

// Len returns the length of the raw part.
func (b *Block) Len() int { return b.n }

// CRC32 returns the CRC-32 (IEEE) of the raw part.
func (b *Block) CRC32() uint32 { return b.crc }

// Has reports whether the block holds the form for enc.
func (b *Block) Has(enc Encoding) bool { return enc.valid() && b.has&(1<<enc) != 0 }

// Bytes returns the block's form for enc, or nil when it has none. The
// result must not be modified.
func (b *Block) Bytes(enc Encoding) []byte {
	if !b.Has(enc) {
		return nil
	}
	return b.form[enc]
}

func (b *Block) set(enc Encoding, p []byte) {
	if p == nil {
		p = []byte{}
	}
	b.form[enc] = p
	b.has |= 1 << enc
}

// Defaults for BuilderOptions. Blocks are built once per config load or
// cache fill and read by every page, so they afford the slow levels. For
// zstd the best level held about 1.4 MB of encoder state per block built
// (73 MB after 50 blocks, against 13 MB here) for a page under 1% smaller.
const (
	DefaultGzipLevel = flate.BestCompression
	DefaultZstdLevel = zstd.SpeedBetterCompression
)

// maxZstdWindow is the largest window a zstd frame for HTTP may declare
// (RFC 9659); browsers reject frames that ask for more.
const maxZstdWindow = 8 << 20

// smallZstdWindow is the window of the encoder for parts up to its size,
// which is nearly all of them: an encoder holds tables in proportion to
// its window, and a builder keeps one per concurrent block.
const smallZstdWindow = 256 << 10

// BuilderOptions configures a Builder.
type BuilderOptions struct {
	// Encodings lists the forms each block gets. Nil means Gzip and Zstd.
	Encodings []Encoding
	// GzipLevel is the deflate level, 1 to 9. Zero means DefaultGzipLevel.
	// At level 9, parts up to 64 KB are also compressed by optimal parsing
	// (as zopfli does, some 5% smaller, at about a millisecond per KB) and
	// the smaller form is kept.
	GzipLevel int
	// ZstdLevel is the zstd level. Zero means DefaultZstdLevel.
	ZstdLevel zstd.EncoderLevel
	// Concurrency bounds how many blocks are zstd-compressed at once; each
	// slot holds an encoder's tables. Zero means GOMAXPROCS.
	Concurrency int
}

// Builder builds Blocks with pooled compressors. It is safe for
// concurrent use.
type Builder struct {
	forms   uint8
	level   int
	deflate sync.Pool // *flate.Writer
	// zstd writes single-segment frames, which always carry the content
	// size and whose window is that size: parts up to maxZstdWindow.
	zstd *zstd.Encoder
	// zstdLarge writes windowed frames for larger parts. An Encoder
	// allocates its state on first use, so an unused one costs nothing.
	zstdLarge *zstd.Encoder
}

// NewBuilder returns a Builder for o.
func NewBuilder(o BuilderOptions) (*Builder, error) {
	b := &Builder{level: o.GzipLevel}
	if b.level == 0 {
		b.level = DefaultGzipLevel
	}
	if b.level < flate.BestSpeed || b.level > flate.BestCompression {
		return nil, fmt.Errorf("zparts: gzip level %d: want 1 to 9", b.level)
	}
	encs := o.Encodings
	if encs == nil {
		encs = []Encoding{Gzip, Zstd}
	}
	for _, e := range encs {
		if !e.valid() {
			return nil, fmt.Errorf("zparts: unknown encoding %d", e)
		}
		b.forms |= 1 << e
	}
	level := o.ZstdLevel
	if level == 0 {
		level = DefaultZstdLevel
	}
	conc := o.Concurrency
	if conc <= 0 {
		conc = runtime.GOMAXPROCS(0)
	}
	if b.forms&(1<<Zstd) != 0 {
		newEncoder := func(single bool) (*zstd.Encoder, error) {
			window := maxZstdWindow
			if single {
				window = smallZstdWindow
			}
			return zstd.NewWriter(nil,
				zstd.WithEncoderLevel(level),
				zstd.WithWindowSize(window),
				zstd.WithSingleSegment(single),
				// The wire form's checksum covers storage and TCP/TLS covers
				// transit; 4 bytes a frame add up on a page of small parts.
				zstd.WithEncoderCRC(false),
				zstd.WithEncoderConcurrency(conc),
			)
		}
		var err error
		if b.zstd, err = newEncoder(true); err != nil {
			return nil, fmt.Errorf("zparts: zstd encoder: %w", err)
		}
		if b.zstdLarge, err = newEncoder(false); err != nil {
			return nil, fmt.Errorf("zparts: zstd encoder: %w", err)
		}
	}
	b.deflate.New = func() any {
		w, err := flate.NewWriter(nil, b.level)
		if err != nil {
			panic(fmt.Sprintf("zparts: deflate level %d: %v", b.level, err)) // checked above
		}
		return w
	}
	return b, nil
}

// Build compresses raw into a Block with the builder's forms. raw is not
// retained.
func (b *Builder) Build(raw []byte) *Block {
	blk := &Block{n: len(raw), crc: crc32.ChecksumIEEE(raw), shift: crcShift(uint64(len(raw)))}
	if b.forms&(1<<Identity) != 0 {
		blk.set(Identity, bytes.Clone(raw))
	}
	if b.forms&(1<<Gzip) != 0 {
		blk.set(Gzip, b.deflateForm(raw))
	}
	if b.forms&(1<<Zstd) != 0 {
		blk.set(Zstd, b.zstdForm(raw))
	}
	return blk
}

func (b *Builder) deflateForm(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	var squeezed []byte
	if b.level == flate.BestCompression {
		squeezed = squeeze(raw)
	}
	var out bytes.Buffer
	out.Grow(len(raw)/3 + 64)
	w := b.deflate.Get().(*flate.Writer)
	w.Reset(&out)
	// bytes.Buffer does not fail, so neither do these.
	_, _ = w.Write(raw)
	_ = w.Flush()
	w.Reset(nil)
	b.deflate.Put(w)
	if squeezed != nil && len(squeezed) <= out.Len() {
		return squeezed
	}
	return bytes.Clone(out.Bytes())
}

func (b *Builder) zstdForm(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	enc := b.zstd
	if len(raw) > smallZstdWindow {
		enc = b.zstdLarge
	}
	out := enc.EncodeAll(raw, make([]byte, 0, len(raw)/3+64))
	return bytes.Clone(out)
}

var defaultBuilder = sync.OnceValue(func() *Builder {
	b, err := NewBuilder(BuilderOptions{})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return b
})

// NewBlock compresses raw into a Block with the Gzip and Zstd forms at the
// default levels. raw is not retained.
func NewBlock(raw []byte) *Block { return defaultBuilder().Build(raw) }
