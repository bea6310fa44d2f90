package zparts

// Encoding is a content coding a page can be written in.
type Encoding uint8

// The encodings a Writer produces.
const (
	// Identity is the page uncompressed.
	Identity Encoding = iota
	// Gzip is a gzip member (RFC 1952) made of deflate blocks.
	Gzip
	// Zstd is a sequence of zstd frames (RFC 8878), each with a window of
	// at most 8 MB as RFC 9659 requires for HTTP.
	Zstd
	numEncodings
)

// String returns the encoding's content-coding token, as used in the
// Content-Encoding header: "identity", "gzip" or "zstd".
func (e Encoding) String() string {
	switch e {
	case Identity:
		return "identity"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "unknown"
}

func (e Encoding) valid() bool { return e < numEncodings }

// Weights are in thousandths, 0 to 1000.
const (
	// qUnset marks a coding the header does not mention.
	qUnset = -1
	// qIdentityDefault is identity's weight when the header neither names
	// it nor has "*": acceptable (RFC 9110, 12.5.3) but below any coding
	// the client does name.
	qIdentityDefault = 1
)

// Negotiate returns the encoding to answer a request with, given its
// Accept-Encoding header value (RFC 9110, section 12.5.3).
//
// Codings are matched case-insensitively, "x-gzip" counts as "gzip", a
// weight of q=0 refuses a coding, and "*" gives its weight to every coding
// the header does not name. The highest weight wins; on a tie gzip is
// preferred to zstd (a page stitched from zstd frames is some 5% larger
// than one of deflate blocks) and either to identity. An empty or missing header, or
// one that refuses everything, yields Identity. Elements with a malformed
// weight are ignored, as are codings this package does not produce.
// Negotiate does not allocate.
func Negotiate(acceptEncoding []byte) Encoding {
	qz, qg, qi, qstar := qUnset, qUnset, qUnset, qUnset
	s := acceptEncoding
	for len(s) > 0 {
		var elem []byte
		elem, s = cutByte(s, ',')
		name, params := cutByte(elem, ';')
		name = trimOWS(name)
		if len(name) == 0 {
			continue
		}
		q, ok := weight(params)
		if !ok {
			continue
		}
		var slot *int
		switch {
		case equalFold(name, "zstd"):
			slot = &qz
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
			slot = &qg
		case equalFold(name, "identity"):
			slot = &qi
		case len(name) == 1 && name[0] == '*':
			slot = &qstar
		default:
			continue
		}
		// A coding listed twice keeps its first weight.
		if *slot == qUnset {
			*slot = q
		}
	}
	if qstar != qUnset {
		if qz == qUnset {
			qz = qstar
		}
		if qg == qUnset {
			qg = qstar
		}
		if qi == qUnset {
			qi = qstar
		}
	}
	if qi == qUnset {
		qi = qIdentityDefault
	}
	best, bestQ := Identity, qi
	if qg > 0 && qg >= bestQ {
		best, bestQ = Gzip, qg
	}
	if qz > 0 && (qz > bestQ || (best == Identity && qz == bestQ)) {
		best = Zstd
	}
	return best
}

// weight parses the parameters after a coding's name and returns its
// weight in thousandths (1000 when absent). Parameters other than q are
// skipped; ok is false when q is malformed.
func weight(params []byte) (q int, ok bool) {
	q = 1000
	for len(params) > 0 {
		var p []byte
		p, params = cutByte(params, ';')
		name, value := cutByte(p, '=')
		name = trimOWS(name)
		if len(name) != 1 || (name[0] != 'q' && name[0] != 'Q') {
			continue
		}
		q, ok = parseQ(trimOWS(value))
		if !ok {
			return 0, false
		}
	}
	return q, true
}

// parseQ parses an RFC 9110 qvalue: "0" to "1" with up to three decimals.
func parseQ(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	q := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return q, true
	}
	if v[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}

func cutByte(s []byte, sep byte) (before, after []byte) {
	for i, c := range s {
		if c == sep {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFold reports whether s equals the lowercase ASCII token t, ignoring
// ASCII case.
func equalFold(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
