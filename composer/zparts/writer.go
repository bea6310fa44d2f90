package zparts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Errors a Writer returns; match them with errors.Is.
var (
	// ErrMissingForm means a Block lacks the form for the Writer's
	// encoding; write the part's raw bytes with Write instead.
	ErrMissingForm = errors.New("block has no form for the encoding")
	// ErrClosed means the Writer was used after Close.
	ErrClosed = errors.New("writer is closed")
)

// gzipHeader is a gzip member header: deflate, no flags, no mtime, no
// extra flags, OS unknown (RFC 1952).
var gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// finalDeflate is an empty final block with fixed Huffman codes: BFINAL=1,
// BTYPE=01, end-of-block. It ends a stream that stands at a byte boundary.
var finalDeflate = [2]byte{0x03, 0x00}

// emptyZstdFrame is a complete frame with no content, for a zstd page with
// no bytes at all: a zero-length body is not a zstd stream.
var emptyZstdFrame = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00}

const (
	// storedMax is the largest pending piece written as a stored deflate
	// block (5 bytes of framing) rather than compressed: below it, the
	// Huffman table costs more than it saves (121 bytes of the benchmark
	// layout compress to 131) and building it costs microseconds.
	storedMax = 128
	// runMax caps the raw bytes a Writer buffers before it compresses
	// them, so large raw writes stream in segments.
	runMax = 64 << 10
	// keepMax is the largest scratch buffer a released Writer keeps.
	keepMax = 256 << 10
)

// pieceZstd compresses request-time pieces: fastest level, no checksum
// (the pieces are small and TCP/TLS already protect them), and a window no
// larger than a segment.
var pieceZstd = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(runMax),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
	)
	if err != nil {
		panic(fmt.Sprintf("zparts: zstd piece encoder: %v", err)) // fixed, valid options
	}
	return e
})

// Writer writes one page in one Encoding as a sequence of parts: Blocks,
// whose precompressed forms are copied as they are, and raw pieces, which
// are compressed when the Writer reaches a sync point (a block, Flush or
// Close). Consecutive raw writes are compressed together.
//
// For Gzip the output is a 10-byte header, the parts' deflate blocks in
// document order, a final empty block, and the trailer with the page's
// CRC-32 (combined from the parts' CRCs) and length. For Zstd it is one
// frame per Block and per run of raw writes. For Identity the raw bytes.
//
// A Writer is not safe for concurrent use. Errors from the destination are
// sticky: after one, every method returns it.
type Writer struct {
	dst     io.Writer
	enc     Encoding
	crc     uint32
	n       uint64 // raw bytes of the page so far
	synced  uint64 // n at the last sync marker
	started bool   // gzip header written
	frames  bool   // zstd: at least one frame written
	closed  bool
	err     error
	run     []byte // raw bytes not yet compressed
	out     []byte // scratch for the compressed form of run
	aw      appendWriter
}

// NewWriter returns a Writer that writes a page in enc to dst. An unknown
// enc is treated as Identity.
func NewWriter(dst io.Writer, enc Encoding) *Writer {
	w := &Writer{}
	w.Reset(dst, enc)
	return w
}

// Reset discards w's state and makes it write a new page in enc to dst,
// keeping its buffers.
func (w *Writer) Reset(dst io.Writer, enc Encoding) {
	if !enc.valid() {
		enc = Identity
	}
	*w = Writer{dst: dst, enc: enc, run: w.run[:0], out: w.out[:0]}
}

var writerPool = sync.Pool{New: func() any { return new(Writer) }}

// AcquireWriter returns a pooled Writer reset to write a page in enc to
// dst. Return it with ReleaseWriter once the page is closed.
func AcquireWriter(dst io.Writer, enc Encoding) *Writer {
	w := writerPool.Get().(*Writer)
	w.Reset(dst, enc)
	return w
}

// ReleaseWriter returns w to the pool. w must not be used afterwards.
func ReleaseWriter(w *Writer) {
	if cap(w.run) > keepMax {
		w.run = nil
	}
	if cap(w.out) > keepMax {
		w.out = nil
	}
	w.Reset(nil, Identity)
	writerPool.Put(w)
}

// Encoding returns the encoding w writes.
func (w *Writer) Encoding() Encoding { return w.enc }

// Len returns the raw length of the page written so far.
func (w *Writer) Len() int64 { return int64(w.n) }

// Write adds a raw piece to the page. With Identity it goes straight to
// the destination; otherwise it is buffered until the next sync point. p
// is not retained.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.enc == Identity {
		n, err := w.dst.Write(p)
		return w.counted(n, err)
	}
	if w.enc == Gzip {
		w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	}
	n := len(p)
	w.n += uint64(n)
	for len(p) > 0 {
		k := min(len(p), runMax-len(w.run))
		w.run = append(w.run, p[:k]...)
		p = p[k:]
		if err := w.spill(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// WriteString is Write for a string.
func (w *Writer) WriteString(s string) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.enc == Identity {
		n, err := io.WriteString(w.dst, s)
		return w.counted(n, err)
	}
	n := len(s)
	w.n += uint64(n)
	for len(s) > 0 {
		k := min(len(s), runMax-len(w.run))
		w.run = append(w.run, s[:k]...)
		if w.enc == Gzip {
			w.crc = crc32.Update(w.crc, crc32.IEEETable, w.run[len(w.run)-k:])
		}
		s = s[k:]
		if err := w.spill(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (w *Writer) counted(n int, err error) (int, error) {
	w.n += uint64(n)
	if err != nil {
		w.err = fmt.Errorf("zparts: write identity page: %w", err)
	}
	return n, w.err
}

// spill compresses the pending run once it is a full segment.
func (w *Writer) spill() error {
	if len(w.run) < runMax {
		return nil
	}
	return w.emitRun()
}

// WriteBlock adds a precompressed part to the page by copying the block's
// form for w's encoding. It returns an error wrapping ErrMissingForm, and
// writes nothing, when the block has no such form.
func (w *Writer) WriteBlock(b *Block) error {
	if err := w.check(); err != nil {
		return err
	}
	if !b.Has(w.enc) {
		return fmt.Errorf("zparts: write %s block of %d bytes: %w", w.enc, b.n, ErrMissingForm)
	}
	if err := w.emitRun(); err != nil {
		return err
	}
	form := b.form[w.enc]
	if len(form) == 0 {
		return nil
	}
	if w.enc == Gzip {
		if err := w.header(); err != nil {
			return err
		}
		w.crc = crcCombineShift(w.crc, b.crc, b.shift)
	}
	w.n += uint64(b.n)
	w.frames = true
	return w.put(form)
}

// Flush writes everything added so far so that a client can decode all of
// it, then flushes the destination if it has a Flush() error method (such
// as *bufio.Writer). Streamed pages call it once per slot.
func (w *Writer) Flush() error {
	if err := w.check(); err != nil {
		return err
	}
	if err := w.emitRun(); err != nil {
		return err
	}
	if f, ok := w.dst.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			w.err = fmt.Errorf("zparts: flush: %w", err)
			return w.err
		}
	}
	return nil
}

// syncMarker is an empty non-final stored block: zlib's sync flush.
var syncMarker = [5]byte{0, 0, 0, 0xff, 0xff}

// Sync is Flush that, for Gzip, also writes an empty stored block (what
// zlib's sync flush writes) when anything was written since the last one:
// some inflaters, Go's compress/flate among them, hand out the output of
// a block only when they meet one. Use it where a client should see the
// page so far; it costs 5 bytes.
func (w *Writer) Sync() error {
	if err := w.check(); err != nil {
		return err
	}
	if err := w.emitRun(); err != nil {
		return err
	}
	if w.enc == Gzip && w.started && w.n != w.synced {
		if err := w.put(syncMarker[:]); err != nil {
			return err
		}
		w.synced = w.n
	}
	return w.Flush()
}

// Close ends the page: for Gzip the final empty block and the trailer, for
// a Zstd page with no frame an empty frame. It neither flushes nor closes
// the destination. Close on a closed Writer returns nil.
func (w *Writer) Close() error {
	if w.closed && w.err == nil {
		return nil
	}
	if err := w.check(); err != nil {
		return err
	}
	if err := w.emitRun(); err != nil {
		return err
	}
	w.closed = true
	switch w.enc {
	case Gzip:
		if err := w.header(); err != nil {
			return err
		}
		t := append(w.out[:0], finalDeflate[:]...)
		t = binary.LittleEndian.AppendUint32(t, w.crc)
		t = binary.LittleEndian.AppendUint32(t, uint32(w.n)) // ISIZE is the length mod 2^32
		w.out = t
		return w.put(t)
	case Zstd:
		if !w.frames {
			return w.put(emptyZstdFrame)
		}
	}
	return nil
}

func (w *Writer) check() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("zparts: %s page: %w", w.enc, ErrClosed)
	}
	return nil
}

func (w *Writer) header() error {
	if w.started {
		return nil
	}
	w.started = true
	return w.put(gzipHeader[:])
}

func (w *Writer) put(p []byte) error {
	if _, err := w.dst.Write(p); err != nil {
		w.err = fmt.Errorf("zparts: write %s page: %w", w.enc, err)
		return w.err
	}
	return nil
}

// emitRun compresses the pending raw bytes to a byte-aligned piece that
// refers to nothing before it and writes it.
func (w *Writer) emitRun() error {
	if len(w.run) == 0 {
		return nil
	}
	run := w.run
	w.run = w.run[:0]
	out := w.out[:0]
	switch w.enc {
	case Gzip:
		if !w.started {
			w.started = true
			out = append(out, gzipHeader[:]...)
		}
		if len(run) <= storedMax {
			out = appendStored(out, run)
		} else {
			w.aw.buf = out
			// appendWriter does not fail, so neither does this.
			_ = flate.StatelessDeflate(&w.aw, run, false, nil)
			out = w.aw.buf
			w.aw.buf = nil
		}
	case Zstd:
		out = pieceZstd().EncodeAll(run, out)
		w.frames = true
	}
	w.out = out
	return w.put(out)
}

// appendStored appends p (at most 65535 bytes) as a non-final stored
// deflate block; it starts and ends at a byte boundary.
func appendStored(dst, p []byte) []byte {
	n := uint16(len(p))
	dst = append(dst, 0, byte(n), byte(n>>8), byte(^n), byte(^n>>8))
	return append(dst, p...)
}

type appendWriter struct{ buf []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.buf = append(a.buf, p...)
	return len(p), nil
}

var _ io.StringWriter = (*Writer)(nil)
