package zparts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWireRoundTrip(t *testing.T) {
	t.Parallel()
	gzipOnly, err := NewBuilder(BuilderOptions{Encodings: []Encoding{Gzip}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		b    *Block
	}{
		{"empty", NewBlock(nil)},
		{"small", NewBlock([]byte("<p>hi</p>"))},
		{"all forms", testBuilder().Build(html(1, 3072))},
		{"gzip only", gzipOnly.Build(html(2, 500))},
		{"large", NewBlock(html(3, 300<<10))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeBlock(data)
			if err != nil {
				t.Fatalf("DecodeBlock: %v", err)
			}
			if diff := cmp.Diff(tt.b, got, cmp.AllowUnexported(Block{})); diff != "" {
				t.Errorf("decoded block differs (-want +got):\n%s", diff)
			}
			var u Block
			if err := u.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			clear(data) // UnmarshalBinary copies
			if diff := cmp.Diff(tt.b, &u, cmp.AllowUnexported(Block{})); diff != "" {
				t.Errorf("unmarshalled block differs (-want +got):\n%s", diff)
			}
			appended, _ := tt.b.AppendBinary([]byte("prefix"))
			if _, err := DecodeBlock(appended[len("prefix"):]); err != nil {
				t.Errorf("AppendBinary after a prefix: %v", err)
			}
		})
	}
}

// reseal recomputes the trailing checksum, so that a test reaches the
// checks behind it.
func reseal(p []byte) []byte {
	body := p[:len(p)-wireTail]
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

func TestDecodeBlockCorrupt(t *testing.T) {
	t.Parallel()
	good, err := NewBlock(html(1, 2000)).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(good)) }
	// A hand-made block: a header, then the given forms.
	build := func(has byte, n uint64, forms ...[]byte) []byte {
		p := []byte{'Z', 'P', wireVersion, has}
		p = binary.AppendUvarint(p, n)
		p = binary.LittleEndian.AppendUint32(p, 0)
		for _, f := range forms {
			p = binary.AppendUvarint(p, uint64(len(f)))
			p = append(p, f...)
		}
		return reseal(append(p, 0, 0, 0, 0))
	}
	zform := NewBlock([]byte("abc")).Bytes(Zstd)
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"short", []byte("ZP\x01")},
		{"magic", mut(func(p []byte) []byte { p[0] = 'X'; return reseal(p) })},
		{"version", mut(func(p []byte) []byte { p[2] = 2; return reseal(p) })},
		{"flipped bit", mut(func(p []byte) []byte { p[len(p)/2] ^= 1; return p })},
		{"truncated", good[:len(good)-1]},
		{"extended", append(bytes.Clone(good), 0)},
		{"unknown forms", mut(func(p []byte) []byte { p[3] |= 0x80; return reseal(p) })},
		{"bad varint", build(0, 0)[:4+wireTail]},
		{"huge length", build(0, 1<<41)},
		{"no crc", reseal([]byte{'Z', 'P', wireVersion, 0, 5, 1, 2, 0, 0, 0, 0})},
		{"form past the end", reseal(append(binary.AppendUvarint([]byte{'Z', 'P', wireVersion, 1 << Gzip, 5, 0, 0, 0, 0}, 1<<30), 0, 0, 0, 0))},
		{"form length overflows", reseal(append(binary.AppendUvarint([]byte{'Z', 'P', wireVersion, 1 << Gzip, 5, 0, 0, 0, 0}, ^uint64(0)), 0, 0, 0, 0))},
		{"trailing bytes", build(0, 3, []byte("junk"))},
		{"missing form", build(1<<Gzip|1<<Zstd, 3, []byte{0, 0, 0, 0xff, 0xff})},
		{"identity length", build(1<<Identity, 3, []byte("ab"))},
		{"form for empty part", build(1<<Gzip, 0, []byte{0, 0, 0, 0xff, 0xff})},
		{"gzip form too short", build(1<<Gzip, 3, []byte{0x4b})},
		{"zstd not a frame", build(1<<Zstd, 3, []byte("abcdefgh"))},
		{"zstd wrong size", build(1<<Zstd, 4, zform)},
		{"zstd skippable", build(1<<Zstd, 3, []byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0})},
		{"zstd huge window", build(1<<Zstd, 3, []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x80, 0x03, 0, 0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := DecodeBlock(tt.data)
			if !errors.Is(err, ErrCorrupt) || b != nil {
				t.Fatalf("DecodeBlock = %v, %v; want ErrCorrupt", b, err)
			}
			var u Block
			if err := u.UnmarshalBinary(tt.data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary = %v; want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecodeBlock(f *testing.F) {
	for _, raw := range [][]byte{nil, []byte("x"), html(1, 2000)} {
		p, _ := testBuilder().Build(raw).MarshalBinary()
		f.Add(p, false)
		f.Add(p, true)
		p, _ = NewBlock(raw).MarshalBinary()
		f.Add(p, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, resealed bool) {
		// Resealing lets mutations reach the checks behind the checksum.
		if resealed && len(data) >= wireTail {
			data = reseal(data)
		}
		b, err := DecodeBlock(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if b != nil {
				t.Fatal("a block with an error")
			}
			return
		}
		// What decodes re-encodes to the same bytes.
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoded to %d bytes, %v; decoded from %d", len(again), err, len(data))
		}
		// And a writer takes it without panicking.
		for _, enc := range []Encoding{Identity, Gzip, Zstd} {
			w := NewWriter(&bytes.Buffer{}, enc)
			if err := w.WriteBlock(b); err != nil && !errors.Is(err, ErrMissingForm) {
				t.Fatal(err)
			}
			_ = w.Close()
		}
	})
}
