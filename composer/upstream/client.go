// Package upstream is how the composer calls a fragment service: one
// keep-alive client per fragment with its body bound, its authentication
// (none, bearer or HMAC), its circuit breaker, and the reading of its
// answer — status, markup, version, Cache-Control, assets, head and
// cookies, each checked — into an Answer. Errors fall into the categories
// below, which Reason names for metrics.
package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
	"github.com/tessera-dev/tessera/internal/rawconn"
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
	http    *fasthttp.HostClient
	breaker *breaker
}

// NewClient is t's client for the service at rawURL (an http(s) URL, as
// the config checked): its own connection pool and body bound, and its
// circuit breaker.
func NewClient(rawURL string, t Target) *Client {
	u, _ := url.Parse(rawURL)
	tls := u != nil && u.Scheme == "https"
	host := ""
	if u != nil {
		host = u.Host
	}
	return &Client{t: t, breaker: newBreaker(t.Name, t.Breaker), http: &fasthttp.HostClient{
		Addr:                fasthttp.AddMissingPort(host, tls),
		IsTLS:               tls,
		Name:                "tessera",
		MaxConns:            512,
		MaxIdleConnDuration: 30 * time.Second,
		MaxConnWaitTimeout:  time.Second,
		MaxResponseBodySize: t.MaxBytes,
		ReadBufferSize:      readBufferSize,
		DialTimeout:         dial,
		// Assets go through Do: a GET is idempotent; retry only on a
		// broken pooled connection, never after a timeout.
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 2 && !errors.Is(err, fasthttp.ErrTimeout)
		},
	}}
}

// dial connects as fasthttp would, the connection's reads and writes made
// as direct system calls. A timeout of 0 is fasthttp's own default, as when
// the pool dials for a caller waiting on a freed place.
func dial(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = fasthttp.DefaultDialTimeout
	}
	c, err := fasthttp.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return rawconn.Wrap(c), nil
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
	return c.Send(r, deadline).Receive()
}

// Call is a request sent to a fragment service whose answer is yet to be
// read: a caller sends several before it waits on any. Receive must be
// called exactly once.
type Call struct {
	c        *Client
	r        *Request
	req      *fasthttp.Request
	deadline time.Time
	// conn is the connection the request went out on, reused that it came
	// from the pool, and put gives it back (keep) or closes it.
	conn   net.Conn
	reused bool
	put    func(keep bool)
	// br reads the answer, from the first wait on it.
	br *bufio.Reader
	// done tells the breaker how the call ended (nil: no breaker).
	done func(error)
	// err is why the request could not be sent.
	err error
}

// Send writes r to the fragment service, through its breaker, with a hard
// deadline for the whole call; its answer is read by Receive. A request
// that could not be sent reports why from Receive.
func (c *Client) Send(r *Request, deadline time.Time) *Call {
	call := &Call{c: c, r: r, deadline: deadline}
	if call.done, call.err = c.breaker.allow(c.t.Name); call.err != nil {
		return call
	}
	call.req = fasthttp.AcquireRequest()
	c.t.build(call.req, r)
	err := call.write()
	if err != nil && call.reused {
		err = call.write() // the pooled connection was broken: once more, on another
	}
	if err != nil {
		call.err = c.t.failure(err)
	}
	return call
}

// build is the request for r: markup wanted, the forwarded headers and
// cookies, and the target's credentials.
func (t *Target) build(req *fasthttp.Request, r *Request) {
	req.SetRequestURI(r.URL)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.SetUserAgent("tessera")
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
}

// write sends the request on a pooled connection, or a new one, within
// the call's deadline.
func (call *Call) write() error {
	hc := call.c.http
	wait := time.Until(call.deadline)
	if wait <= 0 {
		return fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(wait, false)
	if err != nil {
		return err
	}
	call.conn, call.reused = cc.Conn(), !cc.LastUseTime().IsZero()
	call.put = func(keep bool) {
		if keep {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc)
		}
	}
	if err = call.conn.SetDeadline(call.deadline); err == nil {
		bw := hc.AcquireWriter(call.conn)
		if err = call.req.Write(bw); err == nil {
			err = bw.Flush()
		}
		hc.ReleaseWriter(bw)
	}
	if err != nil {
		call.release(false)
	}
	return err
}

// release gives the call's connection back to the pool (keep) or closes
// it, once.
func (call *Call) release(keep bool) {
	if call.put != nil {
		call.put(keep)
		call.put = nil
	}
}

// Receive reads the answer to a sent request, by the call's deadline, and
// checks it. It never returns a body larger than MaxBytes nor one that is
// not HTML.
func (call *Call) Receive() (a *Answer, err error) {
	if call.done != nil {
		defer func() {
			if p := recover(); p != nil {
				call.done(ErrPanic)
				panic(p)
			}
			call.done(err)
		}()
	}
	if call.err != nil {
		return nil, call.err
	}
	defer fasthttp.ReleaseRequest(call.req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	keep := false
	defer func() { call.release(keep) }() // closed unless read whole
	err = call.read(resp)
	if errors.Is(err, io.EOF) && call.reused {
		// The service closed the pooled connection while it was idle:
		// once more, on another.
		call.release(false)
		if err = call.write(); err == nil {
			err = call.read(resp)
		}
	}
	if err != nil {
		return nil, call.c.t.failure(err)
	}
	keep = !resp.ConnectionClose()
	return call.c.t.read(call.r, resp)
}

// Wait reports whether the answer has begun to arrive within d, or the
// call failed already, without reading it: a caller reads the answers that
// are in and leaves the others to be waited for on their own.
func (call *Call) Wait(d time.Duration) bool {
	if call.err != nil {
		return true
	}
	if call.br == nil {
		call.br = call.c.http.AcquireReader(call.conn)
	}
	if call.br.Buffered() > 0 {
		return true
	}
	if call.conn.SetReadDeadline(time.Now().Add(d)) != nil {
		return true // Receive reports what is wrong
	}
	_, err := call.br.Peek(1)
	_ = call.conn.SetReadDeadline(call.deadline)
	var timeout interface{ Timeout() bool }
	return !errors.As(err, &timeout) || !timeout.Timeout()
}

// read reads the response on the call's connection, its body bounded.
func (call *Call) read(resp *fasthttp.Response) error {
	hc := call.c.http
	if call.br == nil {
		call.br = hc.AcquireReader(call.conn)
	}
	err := resp.ReadLimitBody(call.br, call.c.t.MaxBytes)
	hc.ReleaseReader(call.br)
	call.br = nil
	return err
}

// failure is the category of a call that failed on the wire.
func (t *Target) failure(err error) error {
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, fasthttp.ErrNoFreeConns),
		errors.As(err, &timeout) && timeout.Timeout():
		return fmt.Errorf("%w: %s after %s", ErrFragmentTimeout, t.Name, t.Timeout)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Errorf("%w: %s over %d bytes", ErrFragmentTooLarge, t.Name, t.MaxBytes)
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		return fmt.Errorf("%w: %s: response headers over %d bytes", ErrFragmentTooLarge, t.Name, readBufferSize)
	default:
		return fmt.Errorf("%w: %s: %w", ErrFragmentFetch, t.Name, err)
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
