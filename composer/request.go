package composer

import (
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// request is what the plan needs of the browser's request, copied out of
// the RequestCtx so that it outlives the handler.
type request struct {
	ids    requestIDs
	inputs map[string]string
	fwd    forwardable
}

// readRequest copies the request values the site may use: correlation
// ids, declared inputs (page path parameters included) and the headers and
// cookies some fragment may be forwarded.
func readRequest(rc *fasthttp.RequestCtx, rt *runtime, params map[string]string) request {
	req := request{ids: readRequestIDs(rc), inputs: readInputs(rc, rt.site.Inputs), fwd: readForwardable(rc, rt.forward)}
	for k, v := range params {
		if req.inputs == nil {
			req.inputs = make(map[string]string, len(params))
		}
		req.inputs[k] = v
	}
	return req
}

// forwardable holds the request headers and cookies that any fragment of
// the site may be sent.
type forwardable struct {
	headers map[string]string
	cookies map[string]string
}

// forwardList is every header and cookie that some fragment of a site may
// be sent, each once: what a page reads of the request for them.
type forwardList struct{ headers, cookies []string }

// forwardListOf lists what the fragments of s may be sent. The composer's
// own session cookie and the Cookie header are never listed, even from a
// Site built without the config's checks.
func forwardListOf(s *config.Site) forwardList {
	var fl forwardList
	for _, f := range s.Fragments {
		for _, h := range f.ForwardHeaders {
			if !config.RefusedHeader(h) && !slices.Contains(fl.headers, h) {
				fl.headers = append(fl.headers, h)
			}
		}
		for _, c := range f.ForwardCookies {
			if c != config.SessionCookie && !slices.Contains(fl.cookies, c) {
				fl.cookies = append(fl.cookies, c)
			}
		}
	}
	return fl
}

// readForwardable reads the listed headers and cookies from the request,
// each at most 4 KB.
func readForwardable(rc *fasthttp.RequestCtx, fl forwardList) forwardable {
	var fw forwardable
	for _, h := range fl.headers {
		if v := rc.Request.Header.Peek(h); len(v) > 0 && len(v) <= 4096 {
			if fw.headers == nil {
				fw.headers = make(map[string]string, len(fl.headers))
			}
			fw.headers[h] = string(v)
		}
	}
	for _, c := range fl.cookies {
		if v := rc.Request.Header.Cookie(c); len(v) > 0 && len(v) <= 4096 {
			if fw.cookies == nil {
				fw.cookies = make(map[string]string, len(fl.cookies))
			}
			fw.cookies[c] = string(v)
		}
	}
	return fw
}

// requestIDs are the correlation ids of one page request, copied out of the
// RequestCtx: the request id, and the W3C trace context with the page's own
// span (its parent is the caller's span, when there is one).
type requestIDs struct {
	requestID string
	traceID   string
	parentID  string // the caller's span, "" when the trace starts here
	spanID    string // the page's span
	flags     string
}

// readRequestIDs takes the caller's X-Request-Id and traceparent when they
// are well formed, and makes new ones otherwise.
func readRequestIDs(rc *fasthttp.RequestCtx) requestIDs {
	// The ids made here are cut from one random string: the page's span,
	// then the trace and the request id where the caller sent none.
	var ids requestIDs
	fresh := newID(8 + 16 + 8)
	ids.spanID = fresh[:16]
	if v := rc.Request.Header.Peek(protocol.HeaderTraceparent); validTraceparent(v) {
		ids.traceID, ids.parentID, ids.flags = string(v[3:35]), string(v[36:52]), string(v[53:55])
	} else {
		ids.traceID, ids.flags = fresh[16:48], "01"
	}
	if v := rc.Request.Header.Peek(protocol.HeaderRequestID); validRequestID(v) {
		ids.requestID = string(v)
	} else {
		ids.requestID = fresh[48:]
	}
	return ids
}

// childSpan makes a span within the page's trace for one fragment call:
// its id, and the traceparent header value that carries it, in one string.
func (ids requestIDs) childSpan() (spanID, traceparent string) {
	var b [64]byte
	tp := append(b[:0], "00-"...)
	tp = append(tp, ids.traceID...)
	tp = append(tp, '-')
	at := len(tp)
	tp = append(tp, "0000000000000000-"...)
	putRandomHex(tp[at : at+16])
	tp = append(tp, ids.flags...)
	traceparent = string(tp)
	return traceparent[at : at+16], traceparent
}

// newID is n random bytes in hex.
func newID(n int) string {
	var b [64]byte
	putRandomHex(b[:2*n])
	return string(b[:2*n])
}

// putRandomHex fills dst (at most 64 bytes) with random hex digits, two
// per random byte.
func putRandomHex(dst []byte) {
	var raw [32]byte
	n := len(dst) / 2
	for i := 0; i < n; i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	hex.Encode(dst, raw[:n])
}

func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validTraceparent checks the W3C version-00 form:
// 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, ids not all zero.
func validTraceparent(v []byte) bool {
	if len(v) != 55 || v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	zeroTrace, zeroParent := true, true
	for i, c := range v {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
		if c != '0' {
			if i > 2 && i < 35 {
				zeroTrace = false
			} else if i > 35 && i < 52 {
				zeroParent = false
			}
		}
	}
	return !zeroTrace && !zeroParent
}

// readInputs reads the site's declared inputs from the request: query
// parameter, then cookie, then default. Values that do not match the input
// pattern are ignored, so hostile values never reach a fragment or a key.
func readInputs(rc *fasthttp.RequestCtx, inputs map[string]config.InputConfig) map[string]string {
	if len(inputs) == 0 {
		return nil
	}
	out := make(map[string]string, len(inputs))
	for name, in := range inputs {
		var v []byte
		if in.Query != "" {
			v = rc.QueryArgs().Peek(in.Query)
		}
		if !in.Accepts(v) && in.Cookie != "" {
			v = rc.Request.Header.Cookie(in.Cookie)
		}
		if in.Accepts(v) {
			out[name] = string(v)
		} else if in.Default != "" {
			out[name] = in.Default
		}
	}
	return out
}

// cacheKey names a fragment rendering: fragment, purge generation, the
// accepted version range (so that changing it never serves markup of the
// old range), and the exact query the fragment was called with.
func cacheKey(f *config.Fragment, gen uint64, query string) string {
	v := "%2A" // "*", escaped
	if f.Version != "" {
		v = url.QueryEscape(f.Version)
	}
	return "tessera:f:" + f.Name + ":" + strconv.FormatUint(gen, 10) + ":" + v + ":" + query
}
