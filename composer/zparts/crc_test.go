package zparts

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// gf2MatrixCombine is zlib's original crc32_combine, squaring GF(2)
// matrices; it checks the table method for lengths too large to hash.
func gf2MatrixCombine(crc1, crc2 uint32, len2 uint64) uint32 {
	if len2 == 0 {
		return crc1
	}
	times := func(mat *[32]uint32, vec uint32) uint32 {
		var sum uint32
		for i := 0; vec != 0; i, vec = i+1, vec>>1 {
			if vec&1 != 0 {
				sum ^= mat[i]
			}
		}
		return sum
	}
	square := func(sq, mat *[32]uint32) {
		for n := range 32 {
			sq[n] = times(mat, mat[n])
		}
	}
	var even, odd [32]uint32
	odd[0] = crcPoly // operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	square(&even, &odd) // two zero bits
	square(&odd, &even) // four zero bits
	for {
		square(&even, &odd)
		if len2&1 != 0 {
			crc1 = times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		square(&odd, &even)
		if len2&1 != 0 {
			crc1 = times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func TestX2nTable(t *testing.T) {
	// The first entries of zlib's x2n_table.
	want := []uint32{0x40000000, 0x20000000, 0x08000000, 0x00800000, 0x00008000, 0xedb88320, 0xb1e6b092}
	for k, w := range want {
		if x2n[k] != w {
			t.Errorf("x2n[%d] = %#08x, want %#08x", k, x2n[k], w)
		}
	}
}

func TestCRCCombine(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<20+3)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name       string
		len1, len2 int
	}{
		{"both empty", 0, 0},
		{"empty first", 0, 17},
		{"empty second", 17, 0},
		{"one byte each", 1, 1},
		{"short", 3, 5},
		{"block sized", 4096, 3072},
		{"power of two", 1 << 16, 1 << 16},
		{"odd", 12345, 54321},
		{"long second", 7, 1<<20 - 4},
		{"MB", 1 << 19, 1<<19 + 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := data[:tt.len1], data[tt.len1:tt.len1+tt.len2]
			want := crc32.ChecksumIEEE(data[:tt.len1+tt.len2])
			c1, c2 := crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b)
			if got := crcCombine(c1, c2, uint64(len(b))); got != want {
				t.Errorf("crcCombine = %#08x, want %#08x", got, want)
			}
			if got := gf2MatrixCombine(c1, c2, uint64(len(b))); got != want {
				t.Errorf("gf2MatrixCombine = %#08x, want %#08x", got, want)
			}
		})
	}
}

func TestCRCCombineMany(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var page []byte
		var crc uint32
		for range rng.IntN(8) {
			part := make([]byte, rng.IntN(300))
			for i := range part {
				part[i] = byte(rng.Uint32())
			}
			page = append(page, part...)
			crc = crcCombine(crc, crc32.ChecksumIEEE(part), uint64(len(part)))
		}
		if want := crc32.ChecksumIEEE(page); crc != want {
			t.Fatalf("combined %#08x, want %#08x over %d bytes", crc, want, len(page))
		}
	}
}

func TestCRCCombineHugeLengths(t *testing.T) {
	t.Parallel()
	// Lengths past what can be hashed here: the table method must agree
	// with the matrix method, including across the x2n table's period.
	for _, n := range []uint64{1 << 32, 1<<32 + 1, 5<<30 + 7, 1<<40 + 12345, 1<<63 + 99, ^uint64(0)} {
		if got, want := crcCombine(0xdeadbeef, 0x12345678, n), gf2MatrixCombine(0xdeadbeef, 0x12345678, n); got != want {
			t.Errorf("len2 %d: crcCombine %#08x, matrix %#08x", n, got, want)
		}
	}
}

func BenchmarkCRCCombine(b *testing.B) {
	b.ReportAllocs()
	shift := crcShift(3072)
	var crc uint32
	for b.Loop() {
		crc = crcCombineShift(crc, 0x12345678, shift)
	}
	_ = crc
}
