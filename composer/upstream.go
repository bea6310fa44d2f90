package composer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Error categories a caller may branch on with errors.Is.
var (
	ErrFragmentTimeout  = errors.New("fragment timed out")
	ErrFragmentStatus   = errors.New("fragment answered with an error status")
	ErrFragmentTooLarge = errors.New("fragment body too large")
	ErrFragmentType     = errors.New("fragment sent a non-HTML content type")
	ErrFragmentFetch    = errors.New("fragment fetch failed")
	ErrFragmentVersion  = errors.New("fragment version outside the accepted range")
)

// errorReason names an error for metrics and logs.
func errorReason(err error) string {
	switch {
	case errors.Is(err, ErrFragmentTimeout):
		return "timeout"
	case errors.Is(err, ErrFragmentStatus):
		return "status"
	case errors.Is(err, ErrFragmentTooLarge):
		return "too_large"
	case errors.Is(err, ErrFragmentType):
		return "content_type"
	case errors.Is(err, ErrFragmentVersion):
		return "version"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrPanic):
		return "panic"
	case errors.Is(err, ErrFragmentRedirect):
		return "redirect"
	default:
		return "fetch"
	}
}

// ErrCircuitOpen reports a fragment skipped because its circuit breaker is
// open: it failed repeatedly and is left alone for a cool-down.
var ErrCircuitOpen = errors.New("fragment circuit open")

// answer is a fragment's reply as the pipeline uses it.
type answer struct {
	body      []byte
	version   string
	cc        CacheControl
	shareable bool
	// meta is what it declared besides its markup (nil: nothing).
	meta *Meta
	// cookies are its Set-Cookie values, kept only when its fragment
	// may set cookies.
	cookies [][]byte
	// refusedAssets counts Link values it declared that were refused.
	refusedAssets int
}

// fetchRequest is what one upstream call needs, copied out of the page
// request so it outlives the fasthttp.RequestCtx.
type fetchRequest struct {
	url     string
	headers [][2]string
	cookies [][2]string
	// personal is the user's forwarded headers and cookies, exactly as
	// sent ("" when none were): an answer built from them belongs to
	// that user alone.
	personal string
}

// fetcher makes one upstream call for a fragment, bounded by deadline. It
// must be safe for concurrent use. The composer's is upstreamFetcher; tests
// use fakes.
type fetcher interface {
	fetch(ctx context.Context, fr *fragRuntime, req *fetchRequest, deadline time.Time) (*answer, error)
}

// upstreamFetcher calls fragment services over HTTP with each fragment's
// own client, auth and circuit breaker.
type upstreamFetcher struct{}

func (upstreamFetcher) fetch(_ context.Context, fr *fragRuntime, req *fetchRequest, deadline time.Time) (*answer, error) {
	return fr.breaker.run(fr.f.Name, func() (*answer, error) { return fetchHTTP(fr, req, deadline) })
}

// newClient is a fragment's keep-alive client: its own connection pool and
// body bound.
func newClient(f *Fragment) *fasthttp.Client {
	return &fasthttp.Client{
		Name:                "tessera",
		MaxConnsPerHost:     512,
		MaxIdleConnDuration: 30 * time.Second,
		MaxConnWaitTimeout:  time.Second,
		MaxResponseBodySize: f.MaxBytes,
		ReadBufferSize:      8 << 10,
		// A GET to a fragment is idempotent; retry only on a broken pooled
		// connection, never after a timeout.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && !errors.Is(err, fasthttp.ErrTimeout)
		},
	}
}

// fetchHTTP calls a fragment with a hard deadline. It never returns a body
// larger than f.MaxBytes nor one that is not HTML.
func fetchHTTP(fr *fragRuntime, r *fetchRequest, deadline time.Time) (*answer, error) {
	f := fr.f
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.url)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAccept, "text/html")
	for _, h := range r.headers {
		req.Header.Set(h[0], h[1])
	}
	for _, c := range r.cookies {
		req.Header.SetCookie(c[0], c[1])
	}
	switch f.Auth {
	case AuthBearer:
		protocol.SetBearer(req, f.secret)
	case AuthHMAC:
		protocol.SignRequest(req, []byte(f.secret), time.Now())
	}
	err := fr.client.DoDeadline(req, resp, deadline)
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		return nil, fmt.Errorf("%w: %s after %s", ErrFragmentTimeout, f.Name, f.Timeout)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return nil, fmt.Errorf("%w: %s over %d bytes", ErrFragmentTooLarge, f.Name, f.MaxBytes)
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		return nil, fmt.Errorf("%w: %s: response headers over %d bytes", ErrFragmentTooLarge, f.Name, fr.client.ReadBufferSize)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrFragmentFetch, f.Name, err)
	}
	return readAnswer(f, r, resp)
}

// readAnswer turns a fragment's response into an answer: its status,
// markup, version, caching, assets, head and cookies, each checked.
func readAnswer(f *Fragment, r *fetchRequest, resp *fasthttp.Response) (*answer, error) {
	status, location, err := answerStatus(f, resp)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.ContentType(); len(ct) > 0 && !isHTML(ct) && location == "" {
		return nil, fmt.Errorf("%w: %s: %q", ErrFragmentType, f.Name, truncate(ct, 40))
	}
	body := resp.Body()
	if len(body) > f.MaxBytes {
		return nil, fmt.Errorf("%w: %s over %d bytes", ErrFragmentTooLarge, f.Name, f.MaxBytes)
	}
	a := &answer{
		version: sanitizeVersion(resp.Header.Peek(protocol.HeaderVersion)),
		cc:      ParseCacheControl(string(resp.Header.Peek(fasthttp.HeaderCacheControl))),
	}
	if location == "" {
		a.body = append([]byte(nil), body...)
	}
	if !f.acceptsVersion(a.version) {
		return nil, fmt.Errorf("%w: %s answered %q, config wants %s", ErrFragmentVersion, f.Name, a.version, f.Version)
	}
	links := protocol.ParseLinks(resp.Header.PeekAll(protocol.HeaderLink))
	a.refusedAssets = links.Refused
	m := Meta{Status: status, Location: location, Assets: links.Assets, Head: answerHead(resp)}
	if !m.Empty() {
		a.meta = &m
	}
	var setsCookie bool
	a.cookies, setsCookie = answerCookies(f, resp)
	a.shareable = shareable(a.cc, setsCookie, r.personal != "")
	return a, nil
}

// shareable reports whether an answer may be stored or handed to another
// user: never when it says no-store or private or sets a cookie, and, when
// the request carried a user's forwarded values, only when the fragment
// says public or s-maxage (as RFC 9111 3.5 has it for Authorization).
func shareable(cc CacheControl, setsCookie, personal bool) bool {
	if cc.NoStore || cc.Private || setsCookie {
		return false
	}
	return !personal || cc.Public || cc.HasSMax
}

// isHTML reports whether a Content-Type is text/html, in any case.
func isHTML(ct []byte) bool { return hasType(ct, "text/html") }

func sanitizeVersion(v []byte) string {
	if len(v) > 64 {
		v = v[:64]
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+') {
			return ""
		}
	}
	return string(v)
}

// buildURL joins a fragment URL with the slot's query.
func buildURL(base, query string) string {
	if query == "" {
		return base
	}
	if strings.Contains(base, "?") {
		return base + "&" + query
	}
	return base + "?" + query
}

// slotQuery is the query a slot sends: its own params (already encoded at
// config load) followed by the fragment's vary inputs in sorted order, so
// that it doubles as the cache key's variant. A slot cannot set a vary
// input itself (bindSlot refuses it), so the two never overlap.
func slotQuery(s *Slot, inputs map[string]string) string {
	if len(s.Fragment.Vary) == 0 {
		return s.params
	}
	var b strings.Builder
	b.WriteString(s.params)
	for _, name := range s.Fragment.Vary {
		v := inputs[name]
		if v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return b.String()
}

// Breaker defaults: a fragment is skipped once 80% of at least 10
// fetches over the last 30 s failed; 5 s later three probes decide.
const (
	DefaultBreakerMinRequests = 10
	DefaultBreakerFailureRate = 0.8
	DefaultBreakerWindow      = 30 * time.Second
	DefaultBreakerProbes      = 3
	DefaultBreakerCooldown    = 5 * time.Second
)

// BreakerSettings are a fragment's compiled breaker settings (see
// BreakerConfig).
type BreakerSettings struct {
	// MinRequests finished fetches in the window before the rate counts;
	// 0 means no breaker.
	MinRequests int
	FailureRate float64
	Window      time.Duration
	Probes      int
	Cooldown    time.Duration
}

// On reports whether the fragment has a breaker.
func (s BreakerSettings) On() bool { return s.MinRequests > 0 }

// tripped reports whether counts over the window open the circuit: enough
// fetches ended, and enough of them failed. Fetches still running count
// for neither.
func (s BreakerSettings) tripped(c gobreaker.Counts) bool {
	done := c.TotalSuccesses + c.TotalFailures
	return done >= uint32(s.MinRequests) && float64(c.TotalFailures) >= s.FailureRate*float64(done)
}

// breaker is a fragment's circuit breaker; nil when the fragment has none.
type breaker struct {
	cb *gobreaker.CircuitBreaker[*answer]
}

// newBreaker is f's breaker: a rolling window of ten buckets, and Probes
// requests let through half-open, every one of which must succeed to close
// it.
func newBreaker(f *Fragment) *breaker {
	s := f.Breaker
	if !s.On() {
		return nil
	}
	return &breaker{cb: gobreaker.NewCircuitBreaker[*answer](gobreaker.Settings{
		Name:         f.Name,
		MaxRequests:  uint32(s.Probes),
		Interval:     s.Window,
		BucketPeriod: s.Window / 10,
		Timeout:      s.Cooldown,
		ReadyToTrip:  s.tripped,
	})}
}

// state is "closed", "open" or "half-open" ("" when there is no breaker).
func (b *breaker) state() string {
	if b == nil {
		return ""
	}
	return b.cb.State().String()
}

// run calls fetch through the breaker.
func (b *breaker) run(name string, fetch func() (*answer, error)) (*answer, error) {
	if b == nil {
		return fetch()
	}
	a, err := b.cb.Execute(fetch)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, fmt.Errorf("%w: %s", ErrCircuitOpen, name)
	}
	return a, err
}

// CacheControl holds the directives of a Cache-Control header that matter
// to a shared cache.
type CacheControl struct {
	MaxAge, SMaxAge    time.Duration
	HasMaxAge, HasSMax bool
	SWR, SIE           time.Duration
	NoStore, NoCache   bool
	Private, MustReval bool
	// Public says the answer may be shared even though the request carried
	// a user's forwarded values (RFC 9111 3.5, as for Authorization).
	Public bool
}

// TTL is the freshness lifetime for a shared cache: s-maxage before max-age;
// no-cache means zero.
func (cc CacheControl) TTL() time.Duration {
	switch {
	case cc.NoCache:
		return 0
	case cc.HasSMax:
		return cc.SMaxAge
	case cc.HasMaxAge:
		return cc.MaxAge
	}
	return 0
}

// ParseCacheControl parses a Cache-Control header leniently (RFC 9111 5.2):
// unknown directives are ignored, and a malformed or negative delta-seconds
// value makes the response not storable for that directive.
func ParseCacheControl(h string) CacheControl {
	var cc CacheControl
	for len(h) > 0 {
		var d string
		d, h, _ = strings.Cut(h, ",")
		d = strings.TrimSpace(d)
		name, val, hasVal := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		secs := func() (time.Duration, bool) {
			if !hasVal {
				return 0, false
			}
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return 0, false
			}
			return time.Duration(n) * time.Second, true
		}
		switch name {
		case "max-age":
			cc.MaxAge, cc.HasMaxAge = secs()
		case "s-maxage":
			cc.SMaxAge, cc.HasSMax = secs()
		case "stale-while-revalidate":
			cc.SWR, _ = secs()
		case "stale-if-error":
			cc.SIE, _ = secs()
		case "no-store":
			cc.NoStore = true
		case "no-cache":
			cc.NoCache = true
		case "private":
			cc.Private = true
		case "public":
			cc.Public = true
		case "must-revalidate", "proxy-revalidate":
			cc.MustReval = true
		}
	}
	if cc.MustReval {
		cc.SWR, cc.SIE = 0, 0
	}
	return cc
}
