package upstream

import (
	"fmt"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// What a fragment's answer carries besides its markup: its assets and, for
// a primary, the page's status, redirect and head (docs/fragment-contract.md).

// Meta is what an answer declared besides its markup; it is cached with
// the markup. The zero Meta is a plain 200 answer with no assets.
type Meta struct {
	// Status is 0 for 200, else 404, 410 or a redirect (301, 302, 303,
	// 307, 308) with Location, already checked against the site's rules.
	Status   int
	Location string
	Assets   []protocol.Asset
	Head     Head
}

// Empty reports whether m declares nothing: a plain 200 with no assets.
func (m *Meta) Empty() bool {
	return m == nil || m.Status == 0 && m.Location == "" && len(m.Assets) == 0 && m.Head.Empty()
}

// Head is the page head a primary fragment may set; values are plain
// text, escaped where they are written.
type Head struct {
	Title, Description, Canonical, Robots string
}

// Empty reports whether h sets nothing.
func (h Head) Empty() bool { return h == Head{} }

// status reads a fragment's status into what the page may use: 0 for 200,
// 404 and 410 with markup, a redirect with a location allowed by the
// target's hosts; anything else is an error.
func (t *Target) status(resp *fasthttp.Response) (status int, location string, err error) {
	switch sc := resp.StatusCode(); {
	case sc == fasthttp.StatusOK:
		return 0, "", nil
	case sc == fasthttp.StatusNotFound || sc == fasthttp.StatusGone:
		return sc, "", nil
	case protocol.IsRedirect(sc):
		loc := string(resp.Header.Peek(fasthttp.HeaderLocation))
		if !AllowedRedirect(loc, t.RedirectHosts) {
			return 0, "", fmt.Errorf("%w: %s: %d to %q: use a path on this site, or add the host to redirect_hosts", ErrFragmentRedirect, t.Name, sc, truncate([]byte(loc), 80))
		}
		return sc, loc, nil
	default:
		return 0, "", fmt.Errorf("%w: %s: %d", ErrFragmentStatus, t.Name, sc)
	}
}

// AllowedRedirect reports whether a primary may send the browser to loc: a
// path on this site, or an http(s) URL whose host is one of hosts.
func AllowedRedirect(loc string, hosts []string) bool {
	if protocol.SitePath(loc) {
		return true
	}
	host, ok := protocol.AbsoluteHTTP(loc)
	return ok && slices.Contains(hosts, host)
}

// readHead reads the head headers of an answer; a value that does not
// decode, is over its bound, or is not of its form is dropped.
func readHead(resp *fasthttp.Response) Head {
	var h Head
	if v := resp.Header.Peek(protocol.HeaderTitle); len(v) > 0 {
		h.Title, _ = protocol.DecodeHeadValue(v, protocol.MaxTitle)
	}
	if v := resp.Header.Peek(protocol.HeaderDescription); len(v) > 0 {
		h.Description, _ = protocol.DecodeHeadValue(v, protocol.MaxDescription)
	}
	if v := resp.Header.Peek(protocol.HeaderCanonical); len(v) > 0 {
		if c, ok := protocol.DecodeHeadValue(v, protocol.MaxCanonical); ok && protocol.SitePath(c) {
			h.Canonical = c
		}
	}
	if v := resp.Header.Peek(protocol.HeaderRobots); len(v) > 0 {
		if r, ok := protocol.DecodeHeadValue(v, protocol.MaxRobots); ok && protocol.ValidRobots(r) {
			h.Robots = r
		}
	}
	return h
}

// Bounds on the cookies a primary may set.
const (
	maxCookies     = 8
	maxCookieBytes = 4 << 10
)

// cookies copies the Set-Cookie values of an answer whose target may set
// cookies, bounded; it reports whether the answer set any at all.
func (t *Target) cookies(resp *fasthttp.Response) (cookies [][]byte, any bool) {
	all := resp.Header.PeekAll(fasthttp.HeaderSetCookie)
	if !t.SetCookies {
		return nil, len(all) > 0
	}
	for _, c := range all {
		if len(cookies) < maxCookies && len(c) <= maxCookieBytes {
			cookies = append(cookies, append([]byte(nil), c...))
		}
	}
	return cookies, len(all) > 0
}
