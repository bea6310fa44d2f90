// Package upstream is how the composer calls a fragment service: one
// keep-alive client per fragment with its body bound, its authentication
// (none, bearer or HMAC), its circuit breaker, and the reading of its
// answer — status, markup, version, Cache-Control, assets, head and
// cookies, each checked — into an Answer. Errors fall into the categories
// below, which Reason names for metrics.
package upstream

import (
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// AuthKind is how the composer authenticates to a fragment service.
type AuthKind int

// The supported authentication kinds.
const (
	AuthNone AuthKind = iota
	AuthBearer
	AuthHMAC
)

func (k AuthKind) String() string {
	switch k {
	case AuthBearer:
		return "bearer"
	case AuthHMAC:
		return "hmac"
	default:
		return "none"
	}
}

// Target is a fragment service as its client calls it.
type Target struct {
	Name string
	// Timeout is named in timeout errors; each call has its own deadline.
	Timeout  time.Duration
	MaxBytes int
	Auth     AuthKind
	Secret   string
	// Accepts reports whether an answer's version may be used (nil: any);
	// Version is the accepted range, as errors name it.
	Accepts func(version string) bool
	Version string
	// SetCookies keeps an answer's Set-Cookie values.
	SetCookies bool
	// RedirectHosts are the hosts besides the site a redirect may name.
	RedirectHosts []string
	Breaker       BreakerSettings
}

// Client calls one fragment service. It is safe for concurrent use.
type Client struct {
	t       Target
	http    *fasthttp.Client
	breaker *breaker
}

// NewClient is t's client: its own connection pool and body bound, and
// its circuit breaker.
func NewClient(t Target) *Client {
	return &Client{t: t, breaker: newBreaker(t.Name, t.Breaker), http: &fasthttp.Client{
		Name:                "tessera",
		MaxConnsPerHost:     512,
		MaxIdleConnDuration: 30 * time.Second,
		MaxConnWaitTimeout:  time.Second,
		MaxResponseBodySize: t.MaxBytes,
		ReadBufferSize:      readBufferSize,
		// A GET to a fragment is idempotent; retry only on a broken pooled
		// connection, never after a timeout.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && !errors.Is(err, fasthttp.ErrTimeout)
		},
	}}
}

// readBufferSize bounds an answer's headers.
const readBufferSize = 8 << 10

// BreakerState is the circuit: "closed", "open", "half-open", or "" when
// the fragment has no breaker.
func (c *Client) BreakerState() string { return c.breaker.state() }

// CloseIdleConnections closes the client's idle connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Request is what one call needs, copied out of the page request so that it
// outlives it.
type Request struct {
	URL     string
	Headers [][2]string
	Cookies [][2]string
	// Personal is the user's forwarded headers and cookies, exactly as
	// sent ("" when none were): an answer built from them belongs to that
	// user alone.
	Personal string
}

// Answer is a fragment's reply as the composer uses it.
type Answer struct {
	Body    []byte
	Version string
	CC      CacheControl
	// Shareable says it may be stored and handed to other users.
	Shareable bool
	// Meta is what it declared besides its markup (nil: nothing).
	Meta *Meta
	// Cookies are its Set-Cookie values, kept only when the target may
	// set cookies.
	Cookies [][]byte
	// RefusedAssets counts Link values it declared that were refused.
	RefusedAssets int
}

// Fetch calls the fragment through its breaker, with a hard deadline. It
// never returns a body larger than MaxBytes nor one that is not HTML.
func (c *Client) Fetch(r *Request, deadline time.Time) (*Answer, error) {
	return c.breaker.run(c.t.Name, func() (*Answer, error) { return c.fetch(r, deadline) })
}

func (c *Client) fetch(r *Request, deadline time.Time) (*Answer, error) {
	t := &c.t
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.URL)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAccept, "text/html")
	for _, h := range r.Headers {
		req.Header.Set(h[0], h[1])
	}
	for _, ck := range r.Cookies {
		req.Header.SetCookie(ck[0], ck[1])
	}
	switch t.Auth {
	case AuthBearer:
		protocol.SetBearer(req, t.Secret)
	case AuthHMAC:
		protocol.SignRequest(req, []byte(t.Secret), time.Now())
	}
	err := c.http.DoDeadline(req, resp, deadline)
	switch {
	case err == nil:
		return t.read(r, resp)
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		return nil, fmt.Errorf("%w: %s after %s", ErrFragmentTimeout, t.Name, t.Timeout)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return nil, fmt.Errorf("%w: %s over %d bytes", ErrFragmentTooLarge, t.Name, t.MaxBytes)
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		return nil, fmt.Errorf("%w: %s: response headers over %d bytes", ErrFragmentTooLarge, t.Name, readBufferSize)
	default:
		return nil, fmt.Errorf("%w: %s: %w", ErrFragmentFetch, t.Name, err)
	}
}

// read turns a fragment's response into an answer: its status, markup,
// version, caching, assets, head and cookies, each checked.
func (t *Target) read(r *Request, resp *fasthttp.Response) (*Answer, error) {
	status, location, err := t.status(resp)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.ContentType(); len(ct) > 0 && !hasType(ct, "text/html") && location == "" {
		return nil, fmt.Errorf("%w: %s: %q", ErrFragmentType, t.Name, truncate(ct, 40))
	}
	body := resp.Body()
	if len(body) > t.MaxBytes {
		return nil, fmt.Errorf("%w: %s over %d bytes", ErrFragmentTooLarge, t.Name, t.MaxBytes)
	}
	a := &Answer{
		Version: sanitizeVersion(resp.Header.Peek(protocol.HeaderVersion)),
		CC:      ParseCacheControl(string(resp.Header.Peek(fasthttp.HeaderCacheControl))),
	}
	if location == "" {
		a.Body = append([]byte(nil), body...)
	}
	if t.Accepts != nil && !t.Accepts(a.Version) {
		return nil, fmt.Errorf("%w: %s answered %q, config wants %s", ErrFragmentVersion, t.Name, a.Version, t.Version)
	}
	links := protocol.ParseLinks(resp.Header.PeekAll(protocol.HeaderLink))
	a.RefusedAssets = links.Refused
	if m := (Meta{Status: status, Location: location, Assets: links.Assets, Head: readHead(resp)}); !m.Empty() {
		a.Meta = new(m) // only an answer that declared something carries one
	}
	var setsCookie bool
	a.Cookies, setsCookie = t.cookies(resp)
	a.Shareable = Shareable(a.CC, setsCookie, r.Personal != "")
	return a, nil
}

// hasType reports whether a Content-Type is the media type want, in any
// case, with or without parameters.
func hasType(ct []byte, want string) bool {
	if len(ct) < len(want) {
		return false
	}
	for i := range len(want) {
		c := ct[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return len(ct) == len(want) || ct[len(want)] == ';' || ct[len(want)] == ' '
}

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

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// assetTimeout bounds fetching one asset.
const assetTimeout = 2 * time.Second

// Asset fetches one of the fragment's assets from its service's origin,
// without credentials (assets are public), bounded by MaxBytes; it
// reports whether it is a stylesheet or a script by its content type.
func (c *Client) Asset(origin, path string) (protocol.AssetKind, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(origin + path)
	if err := c.http.DoTimeout(req, resp, assetTimeout); err != nil {
		return 0, nil, fmt.Errorf("fetch: %w", err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return 0, nil, fmt.Errorf("the fragment service answered %d", sc)
	}
	var kind protocol.AssetKind
	switch ct := resp.Header.ContentType(); {
	case hasType(ct, "text/css"):
		kind = protocol.Stylesheet
	case hasType(ct, "text/javascript"), hasType(ct, "application/javascript"):
		kind = protocol.Script
	default:
		return 0, nil, fmt.Errorf("content type %q is neither text/css nor text/javascript", truncate(ct, 40))
	}
	return kind, append([]byte(nil), resp.Body()...), nil
}
