package zparts

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"io"
	"testing"

	kflate "github.com/klauspost/compress/flate"
)

func inflate(t testing.TB, p []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(p)))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v, want an open stream", err)
	}
	return got
}

func TestSqueeze(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"one byte", []byte("x")},
		{"two bytes", []byte("\n\n")},
		{"every byte value", all},
		{"run", bytes.Repeat([]byte{'~'}, 5000)},
		{"period 3", bytes.Repeat([]byte("abc"), 3000)},
		{"html", html(1, 3072)},
		{"noise", noise(1, 3000)},
		{"html and noise", append(html(2, 2000), noise(2, 2000)...)},
		{"matches past the window", append(append(html(3, 1000), noise(3, 40000)...), html(3, 1000)...)},
		{"largest", html(4, squeezeMax)},
		{"max length matches", bytes.Repeat(append(noise(5, 300), 'x'), 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := squeeze(tt.raw)
			if s == nil {
				t.Fatal("squeeze gave up") // its own check failed
			}
			if got := inflate(t, s); !bytes.Equal(got, tt.raw) {
				t.Fatalf("inflates to %d bytes, want %d", len(got), len(tt.raw))
			}
			// Two squeezed blocks concatenate, whatever their padding.
			two := append(bytes.Clone(s), squeeze([]byte("<p>next</p>"))...)
			if got := inflate(t, two); !bytes.Equal(got, append(bytes.Clone(tt.raw), "<p>next</p>"...)) {
				t.Fatal("concatenation does not inflate to both parts")
			}
			var k bytes.Buffer
			kw, _ := kflate.NewWriter(&k, kflate.BestCompression)
			_, _ = kw.Write(tt.raw)
			_ = kw.Flush()
			t.Logf("%d bytes: squeezed %d, level 9 %d", len(tt.raw), len(s), k.Len())
		})
	}
	if squeeze(nil) != nil || squeeze(make([]byte, squeezeMax+1)) != nil {
		t.Error("squeeze took an empty or oversized part")
	}
}

func TestHuffmanLengthsLimit(t *testing.T) {
	t.Parallel()
	// Fibonacci counts make the deepest possible tree.
	freq := make([]int, 30)
	a, b := 1, 1
	for i := range freq {
		freq[i] = a
		a, b = b, a+b
	}
	for _, limit := range []int{7, 15} {
		lens := huffmanLengths(freq, limit)
		kraft := 0.0
		for _, l := range lens {
			if l == 0 || int(l) > limit {
				t.Fatalf("limit %d: length %d", limit, l)
			}
			kraft += 1 / float64(uint(1)<<l)
		}
		if kraft != 1 {
			t.Errorf("limit %d: Kraft sum %v, want a complete code", limit, kraft)
		}
	}
}

func FuzzSqueeze(f *testing.F) {
	f.Add([]byte("hello hello hello"))
	f.Add(html(1, 500))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 || len(raw) > squeezeMax {
			return
		}
		s := squeeze(raw)
		if s == nil {
			t.Fatal("squeeze gave up")
		}
		if got := inflate(t, s); !bytes.Equal(got, raw) {
			t.Fatalf("inflates to %d bytes, want %d", len(got), len(raw))
		}
	})
}
