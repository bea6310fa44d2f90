package protocol

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultReplayWindow is how far the date of a signed request may be from
// the checking side's clock, in either direction.
const DefaultReplayWindow = 60 * time.Second

// ErrUnauthorized is wrapped by every error that VerifyBearer and
// VerifySignature return. The wrapping error says why the credentials were
// refused; it never contains a secret.
var ErrUnauthorized = errors.New("unauthorized")

// SetBearer sets "Authorization: Bearer <token>" on req.
func SetBearer(req *fasthttp.Request, token string) {
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+token)
}

// VerifyBearer checks that req carries "Authorization: Bearer <token>". The
// comparison takes the same time whatever the presented token is, its length
// included.
func VerifyBearer(req *fasthttp.Request, token string) error {
	got, ok := bearerToken(req.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		return fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	}
	if token == "" || !equalSecret(got, []byte(token)) {
		return fmt.Errorf("%w: bad bearer token", ErrUnauthorized)
	}
	return nil
}

// bearerToken extracts the token of an Authorization header value. The
// scheme is case-insensitive, as RFC 9110 says.
func bearerToken(h []byte) ([]byte, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	tok := bytes.TrimSpace(h[len(scheme):])
	return tok, len(tok) > 0
}

// equalSecret compares digests rather than the values themselves so that
// the time taken does not depend on where, or whether by length, they differ.
func equalSecret(a, b []byte) bool {
	da, db := sha256.Sum256(a), sha256.Sum256(b)
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}

// Sign returns the X-Tessera-Signature value ("v1=<hex>") for a request with
// the given method, path, raw query (without '?') and date (unix seconds).
func Sign(secret []byte, method, path, rawQuery string, date int64) string {
	return "v1=" + hex.EncodeToString(mac(secret, []byte(method), []byte(path), []byte(rawQuery), strconv.AppendInt(nil, date, 10)))
}

func mac(secret, method, path, rawQuery, date []byte) []byte {
	m := hmac.New(sha256.New, secret)
	for i, part := range [][]byte{method, path, rawQuery, date} {
		if i > 0 {
			m.Write([]byte{'\n'})
		}
		m.Write(part)
	}
	return m.Sum(nil)
}

// SignRequest signs req with secret at time now by setting X-Tessera-Date
// and X-Tessera-Signature. Call it once the method and URI (query included)
// are final: the signature covers the request target as it will be sent.
func SignRequest(req *fasthttp.Request, secret []byte, now time.Time) {
	// The target is rebuilt from the URI the same way Request.Write does, so
	// the signed bytes are the bytes on the wire.
	target := req.URI().RequestURI()
	path, query := splitTarget(target)
	date := strconv.AppendInt(nil, now.Unix(), 10)
	sum := mac(secret, req.Header.Method(), path, query, date)
	sig := make([]byte, 0, 3+hex.EncodedLen(len(sum)))
	sig = append(sig, "v1="...)
	sig = hex.AppendEncode(sig, sum)
	req.Header.SetBytesV(HeaderDate, date)
	req.Header.SetBytesV(HeaderSignature, sig)
}

// VerifySignature checks the X-Tessera-Date and X-Tessera-Signature headers
// of req against secret: the signature must match and the date must be
// within window of now.
func VerifySignature(req *fasthttp.Request, secret []byte, now time.Time, window time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret configured", ErrUnauthorized)
	}
	rawDate := req.Header.Peek(HeaderDate)
	rawSig := req.Header.Peek(HeaderSignature)
	if len(rawDate) == 0 || len(rawSig) == 0 {
		return fmt.Errorf("%w: missing signature", ErrUnauthorized)
	}
	date, err := parseDate(rawDate)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	sig, err := parseSignature(rawSig)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	skew := now.Sub(time.Unix(date, 0))
	if skew > window || skew < -window {
		return fmt.Errorf("%w: date outside the replay window", ErrUnauthorized)
	}
	path, query := splitTarget(requestTarget(req))
	want := mac(secret, req.Header.Method(), path, query, rawDate)
	if !hmac.Equal(sig, want) {
		return fmt.Errorf("%w: signature mismatch", ErrUnauthorized)
	}
	return nil
}

var (
	errBadDate      = errors.New("malformed date")
	errBadSignature = errors.New("malformed signature")
)

// parseDate accepts the decimal unix seconds the signer writes and nothing
// else: no sign, no spaces, no leading zero, at most 12 digits.
func parseDate(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 12 || (len(b) > 1 && b[0] == '0') {
		return 0, errBadDate
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errBadDate
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseSignature accepts "v1=" followed by the 64 hex digits of a
// HMAC-SHA256 sum.
func parseSignature(b []byte) ([]byte, error) {
	const prefix = "v1="
	if len(b) != len(prefix)+2*sha256.Size || string(b[:len(prefix)]) != prefix {
		return nil, errBadSignature
	}
	sum := make([]byte, sha256.Size)
	if _, err := hex.Decode(sum, b[len(prefix):]); err != nil {
		return nil, errBadSignature
	}
	return sum, nil
}

// requestTarget returns the request target as received. An absolute-form
// target ("http://host/p?q") is reduced to its origin form ("/p?q").
func requestTarget(req *fasthttp.Request) []byte {
	t := req.Header.RequestURI()
	if len(t) > 0 && t[0] == '/' {
		return t
	}
	if i := bytes.Index(t, []byte("://")); i >= 0 {
		rest := t[i+3:]
		if j := bytes.IndexAny(rest, "/?"); j >= 0 {
			if rest[j] == '?' {
				return append([]byte("/"), rest[j:]...)
			}
			return rest[j:]
		}
		return []byte("/")
	}
	return t
}

// splitTarget splits a request target into path and raw query at the first
// '?'. A fragment part, which clients do not send, is dropped.
func splitTarget(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}
