package zparts

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"slices"
)

// squeeze compresses a part into one dynamic-Huffman deflate block chosen
// by optimal parsing, as zopfli does: it finds every useful match, then
// repeatedly picks the cheapest parse under the code lengths of the
// previous parse. A block is compressed once and sent on every page, so
// the time is well spent on parts of a few KB, where a greedy compressor
// loses several percent.
//
// The block ends on a byte boundary without the 5-byte empty stored block
// of a sync flush when it can: when the end-of-block code leaves an even
// number of bits in the last byte, up to three empty fixed-Huffman blocks
// (10 bits each) pad it. Only an odd remainder costs the stored block.

const (
	squeezeMax    = 64 << 10 // larger parts use the regular compressor
	squeezeRounds = 12
	squeezeChain  = 1024 // hash-chain candidates tried per position
	deflateWindow = 32 << 10
	maxMatchLen   = 258
	minMatchLen   = 3
	endOfBlock    = 256
	numLitLen     = 286
	numDist       = 30
)

var (
	lenBase   = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// clOrder is the order of the code-length code lengths in a header.
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	lenCode  [maxMatchLen + 1]uint8   // length → index of its length code
	distCode [deflateWindow + 1]uint8 // distance → its distance code
)

func init() {
	for c := range 28 {
		for l := int(lenBase[c]); l < int(lenBase[c])+1<<lenExtra[c] && l <= maxMatchLen; l++ {
			lenCode[l] = uint8(c)
		}
	}
	lenCode[maxMatchLen] = 28
	for c := range numDist {
		for d := int(distBase[c]); d < int(distBase[c])+1<<distExtra[c] && d <= deflateWindow; d++ {
			distCode[d] = uint8(c)
		}
	}
}

// token is a literal (dist 0, the byte in length) or a match.
type token struct{ length, dist uint16 }

// squeeze returns raw as deflate blocks that end on a byte boundary, or
// nil when raw is empty or too large for it.
func squeeze(raw []byte) []byte {
	if len(raw) == 0 || len(raw) > squeezeMax {
		return nil
	}
	offs, ms := findMatches(raw)
	m := fixedModel()
	var best []byte
	stale := 0
	for range squeezeRounds {
		toks := parse(raw, offs, ms, &m)
		var lit [numLitLen]int
		var dist [numDist]int
		for _, t := range toks {
			if t.dist == 0 {
				lit[t.length]++
			} else {
				lit[257+int(lenCode[t.length])]++
				dist[distCode[t.dist]]++
			}
		}
		lit[endOfBlock] = 1
		out := encodeBlock(toks, &lit, &dist)
		if best == nil || len(out) < len(best) {
			best, stale = out, 0
		} else if stale++; stale >= 2 {
			break
		}
		m = entropyModel(&lit, &dist)
	}
	// A wrong block would corrupt every page that carries it: check it.
	got, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(best)))
	if !bytes.Equal(got, raw) || (err != nil && err != io.ErrUnexpectedEOF) {
		return nil
	}
	return best
}

// findMatches returns, for each position i, the matches ms[offs[i]:offs[i+1]]
// in increasing length: every length up to a match's length (and above the
// previous one's) is best reached at that match's distance.
func findMatches(p []byte) (offs []int32, ms []token) {
	const hashBits = 15
	n := len(p)
	head := make([]int32, 1<<hashBits)
	for i := range head {
		head[i] = -1
	}
	prev := make([]int32, n)
	offs = make([]int32, n+1)
	ms = make([]token, 0, n)
	for i := range n {
		offs[i] = int32(len(ms))
		if i+minMatchLen > n {
			continue
		}
		h := (uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16) * 0x9e3779b1 >> (32 - hashBits)
		maxLen := min(maxMatchLen, n-i)
		best := minMatchLen - 1
		for c, steps := head[h], 0; c >= 0 && i-int(c) <= deflateWindow && steps < squeezeChain; c, steps = prev[c], steps+1 {
			if p[int(c)+best] != p[i+best] {
				continue
			}
			l := matchLen(p[c:], p[i:], maxLen)
			if l > best {
				ms = append(ms, token{uint16(l), uint16(i - int(c))})
				if best = l; l == maxLen {
					break
				}
			}
		}
		prev[i] = head[h]
		head[h] = int32(i)
	}
	offs[n] = int32(len(ms))
	return offs, ms
}

func matchLen(a, b []byte, limit int) int {
	n := 0
	for n+8 <= limit {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < limit && a[n] == b[n] {
		n++
	}
	return n
}

// costModel is the estimated cost in bits of each literal, match length
// (code and extra bits) and distance code (code and extra bits).
type costModel struct {
	lit  [256]float32
	len  [maxMatchLen + 1]float32
	dist [numDist]float32
}

func fixedModel() (m costModel) {
	for b := range 256 {
		m.lit[b] = 8
		if b >= 144 {
			m.lit[b] = 9
		}
	}
	for l := minMatchLen; l <= maxMatchLen; l++ {
		c := lenCode[l]
		m.len[l] = 7 + float32(lenExtra[c])
		if c >= 23 { // symbols 280 and up
			m.len[l]++
		}
	}
	for c := range numDist {
		m.dist[c] = 5 + float32(distExtra[c])
	}
	return m
}

// entropyModel estimates costs from the symbol counts of a parse.
func entropyModel(lit *[numLitLen]int, dist *[numDist]int) (m costModel) {
	cost := func(counts []int, out []float32) {
		total := 0
		for _, c := range counts {
			total += c
		}
		lt := math.Log2(float64(max(total, 1)))
		for i, c := range counts {
			if c == 0 {
				out[i] = float32(lt + 1)
			} else {
				out[i] = float32(lt - math.Log2(float64(c)))
			}
		}
	}
	var litCost [numLitLen]float32
	cost(lit[:], litCost[:])
	copy(m.lit[:], litCost[:256])
	cost(dist[:], m.dist[:])
	for c := range numDist {
		m.dist[c] += float32(distExtra[c])
	}
	for l := minMatchLen; l <= maxMatchLen; l++ {
		c := lenCode[l]
		m.len[l] = litCost[257+int(c)] + float32(lenExtra[c])
	}
	return m
}

// parse returns the cheapest tokens for p under m (shortest path over
// positions).
func parse(p []byte, offs []int32, ms []token, m *costModel) []token {
	n := len(p)
	cost := make([]float32, n+1)
	from := make([]token, n+1)
	for i := 1; i <= n; i++ {
		cost[i] = math.MaxFloat32
	}
	for i := range n {
		c := cost[i]
		if v := c + m.lit[p[i]]; v < cost[i+1] {
			cost[i+1], from[i+1] = v, token{uint16(p[i]), 0}
		}
		prevLen := minMatchLen - 1
		for _, t := range ms[offs[i]:offs[i+1]] {
			dc := c + m.dist[distCode[t.dist]]
			for l := prevLen + 1; l <= int(t.length); l++ {
				if v := dc + m.len[l]; v < cost[i+l] {
					cost[i+l], from[i+l] = v, token{uint16(l), t.dist}
				}
			}
			prevLen = int(t.length)
		}
	}
	var toks []token
	for i := n; i > 0; {
		t := from[i]
		toks = append(toks, t)
		if t.dist == 0 {
			i--
		} else {
			i -= int(t.length)
		}
	}
	slices.Reverse(toks)
	return toks
}

// encodeBlock writes toks as one non-final dynamic-Huffman block and pads
// it to a byte boundary.
func encodeBlock(toks []token, lit *[numLitLen]int, dist *[numDist]int) []byte {
	// Every code needs at least two symbols: zlib's inflate and others
	// reject a lone distance code of length zero or an incomplete code.
	d := *dist
	for i, used := 0, countUsed(d[:]); used < 2; i++ {
		if d[i] == 0 {
			d[i], used = 1, used+1
		}
	}
	litLens := huffmanLengths(lit[:], 15)
	distLens := huffmanLengths(d[:], 15)
	hlit := numLitLen
	for hlit > 257 && litLens[hlit-1] == 0 {
		hlit--
	}
	hdist := numDist
	for hdist > 1 && distLens[hdist-1] == 0 {
		hdist--
	}
	lens := append(slices.Clone(litLens[:hlit]), distLens[:hdist]...)
	rle := rleLengths(lens)
	var clFreq [19]int
	for _, r := range rle {
		clFreq[r.sym]++
	}
	for i, used := 0, countUsed(clFreq[:]); used < 2; i++ {
		if clFreq[i] == 0 {
			clFreq[i], used = 1, used+1
		}
	}
	clLens := huffmanLengths(clFreq[:], 7)
	hclen := 19
	for hclen > 4 && clLens[clOrder[hclen-1]] == 0 {
		hclen--
	}
	litCodes, distCodes, clCodes := canonical(litLens), canonical(distLens), canonical(clLens)

	var w bitWriter
	w.out = make([]byte, 0, len(toks)+64)
	w.bits(0, 1) // not final
	w.bits(2, 2) // dynamic Huffman
	w.bits(uint64(hlit-257), 5)
	w.bits(uint64(hdist-1), 5)
	w.bits(uint64(hclen-4), 4)
	for _, s := range clOrder[:hclen] {
		w.bits(uint64(clLens[s]), 3)
	}
	for _, r := range rle {
		w.bits(uint64(clCodes[r.sym]), uint(clLens[r.sym]))
		switch r.sym {
		case 16:
			w.bits(uint64(r.extra), 2)
		case 17:
			w.bits(uint64(r.extra), 3)
		case 18:
			w.bits(uint64(r.extra), 7)
		}
	}
	for _, t := range toks {
		if t.dist == 0 {
			w.bits(uint64(litCodes[t.length]), uint(litLens[t.length]))
			continue
		}
		lc := lenCode[t.length]
		w.bits(uint64(litCodes[257+int(lc)]), uint(litLens[257+int(lc)]))
		w.bits(uint64(t.length-lenBase[lc]), uint(lenExtra[lc]))
		dc := distCode[t.dist]
		w.bits(uint64(distCodes[dc]), uint(distLens[dc]))
		w.bits(uint64(t.dist-distBase[dc]), uint(distExtra[dc]))
	}
	w.bits(uint64(litCodes[endOfBlock]), uint(litLens[endOfBlock]))
	w.align()
	return w.out
}

func countUsed(freq []int) int {
	n := 0
	for _, f := range freq {
		if f > 0 {
			n++
		}
	}
	return n
}

type rleSym struct{ sym, extra uint8 }

// rleLengths run-length codes code lengths with symbols 16, 17 and 18.
func rleLengths(lens []uint8) []rleSym {
	var out []rleSym
	for i := 0; i < len(lens); {
		l := lens[i]
		run := 1
		for i+run < len(lens) && lens[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				out = append(out, rleSym{18, uint8(r - 11)})
				run -= r
			}
			if run >= 3 {
				out = append(out, rleSym{17, uint8(run - 3)})
				run = 0
			}
		} else {
			out = append(out, rleSym{l, 0})
			run--
			for run >= 3 {
				r := min(run, 6)
				out = append(out, rleSym{16, uint8(r - 3)})
				run -= r
			}
		}
		for ; run > 0; run-- {
			out = append(out, rleSym{l, 0})
		}
	}
	return out
}

// huffmanLengths returns Huffman code lengths of at most limit bits for
// freq; symbols with no count get none.
func huffmanLengths(freq []int, limit int) []uint8 {
	f := slices.Clone(freq)
	for {
		lens, depth := huffmanTree(f)
		if depth <= limit {
			return lens
		}
		// Flatten the counts until the tree is shallow enough.
		for i := range f {
			if f[i] > 0 {
				f[i] = f[i]>>1 | 1
			}
		}
	}
}

func huffmanTree(freq []int) ([]uint8, int) {
	type node struct {
		weight      int
		sym         int // -1 for internal nodes
		left, right int
	}
	lens := make([]uint8, len(freq))
	var nodes []node
	for s, f := range freq {
		if f > 0 {
			nodes = append(nodes, node{f, s, -1, -1})
		}
	}
	switch len(nodes) {
	case 0:
		return lens, 0
	case 1:
		lens[nodes[0].sym] = 1
		return lens, 1
	}
	slices.SortStableFunc(nodes, func(a, b node) int { return a.weight - b.weight })
	// Two queues: leaves in order, and internal nodes, which are created
	// in order of weight.
	leaves := len(nodes)
	li, qi := 0, leaves
	pick := func() int {
		if li < leaves && (qi >= len(nodes) || nodes[li].weight <= nodes[qi].weight) {
			li++
			return li - 1
		}
		qi++
		return qi - 1
	}
	for len(nodes)-leaves < leaves-1 {
		a, b := pick(), pick()
		nodes = append(nodes, node{nodes[a].weight + nodes[b].weight, -1, a, b})
	}
	maxDepth := 0
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if nodes[i].sym >= 0 {
			lens[nodes[i].sym] = uint8(depth)
			maxDepth = max(maxDepth, depth)
			return
		}
		walk(nodes[i].left, depth+1)
		walk(nodes[i].right, depth+1)
	}
	walk(len(nodes)-1, 0)
	return lens, maxDepth
}

// canonical returns the canonical codes for lens (RFC 1951, 3.2.2), bit
// reversed for an LSB-first writer.
func canonical(lens []uint8) []uint16 {
	var count [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint16
	code := uint16(0)
	for b := 1; b < 16; b++ {
		code = (code + count[b-1]) << 1
		next[b] = code
	}
	codes := make([]uint16, len(lens))
	for s, l := range lens {
		if l > 0 {
			codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
	return codes
}

type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// align pads to a byte boundary with empty fixed-Huffman blocks when the
// remainder is even, else with an empty stored block.
func (w *bitWriter) align() {
	if w.n == 0 {
		return
	}
	if w.n%2 == 0 {
		for w.n != 0 {
			w.bits(0b0000000_01_0, 10) // not final, fixed Huffman, end of block
		}
		return
	}
	w.bits(0, 3) // not final, stored
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
	w.out = append(w.out, 0, 0, 0xff, 0xff)
}
