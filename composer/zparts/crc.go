package zparts

// The CRC-32 of a concatenation A‖B is crc(A)·x^(8·len(B)) + crc(B) in
// GF(2)[x] modulo the IEEE polynomial (the pre- and post-conditioning of
// the standard CRC cancel out). This is zlib's crc32_combine in its
// current form: instead of squaring 32×32 bit matrices per call, it
// multiplies by precomputed powers x^(2^k) mod P, and a block keeps its own
// x^(8·len) so that folding it into a page is a single multiplication.

// crcPoly is the reflected IEEE polynomial, as in hash/crc32.
const crcPoly = 0xedb88320

// x2n[k] is x^(2^k) mod P in the reflected representation, where x^0 is
// 1<<31. The multiplicative order of x divides 2^32-1, so x^(2^32) = x and
// the table repeats with period 32.
var x2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < len(t); k++ {
		p = mulModP(p, p)
		t[k] = p
	}
	return t
}()

// mulModP returns a·b mod P for reflected polynomials a and b.
func mulModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
		}
		if b&1 != 0 {
			b = b>>1 ^ crcPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// crcShift returns x^(8·n) mod P: the operator that moves a CRC past n
// bytes of zeros.
func crcShift(n uint64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; k++ {
		if n&1 != 0 {
			p = mulModP(x2n[k&31], p)
		}
		n >>= 1
	}
	return p
}

// crcCombineShift returns the CRC-32 of A‖B from crc1 = crc(A), crc2 =
// crc(B) and shift = crcShift(len(B)).
func crcCombineShift(crc1, crc2, shift uint32) uint32 {
	return mulModP(shift, crc1) ^ crc2
}

// crcCombine returns the CRC-32 (IEEE) of A‖B from crc1 = crc(A), crc2 =
// crc(B) and len2 = len(B).
func crcCombine(crc1, crc2 uint32, len2 uint64) uint32 {
	return crcCombineShift(crc1, crc2, crcShift(len2))
}
