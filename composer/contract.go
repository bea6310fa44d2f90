package composer

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

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

// Head is the page head a primary fragment may set; values are plain
// text, escaped where they are written.
type Head struct {
	Title, Description, Canonical, Robots string
}

func (h Head) empty() bool { return h == Head{} }

// Empty reports whether m declares nothing: a plain 200 with no assets.
func (m *Meta) Empty() bool {
	return m == nil || m.Status == 0 && m.Location == "" && len(m.Assets) == 0 && m.Head.empty()
}

// ErrFragmentRedirect reports a redirect a fragment answered that is not
// allowed: a location off the site that no redirect_hosts entry names, or
// one browsers could read as another host.
var ErrFragmentRedirect = errors.New("fragment redirect refused")

// isRedirect reports whether status is a redirect a primary may answer.
func isRedirect(status int) bool {
	switch status {
	case fasthttp.StatusMovedPermanently, fasthttp.StatusFound, fasthttp.StatusSeeOther,
		fasthttp.StatusTemporaryRedirect, fasthttp.StatusPermanentRedirect:
		return true
	}
	return false
}

// answerStatus reads a fragment's status into what the page may use: 0 for
// 200, 404 and 410 with markup, a redirect with a location allowed by
// hosts; anything else is an error.
func answerStatus(f *Fragment, resp *fasthttp.Response) (status int, location string, err error) {
	switch sc := resp.StatusCode(); {
	case sc == fasthttp.StatusOK:
		return 0, "", nil
	case sc == fasthttp.StatusNotFound || sc == fasthttp.StatusGone:
		return sc, "", nil
	case isRedirect(sc):
		loc := string(resp.Header.Peek(fasthttp.HeaderLocation))
		if !allowedRedirect(loc, f.redirectHosts) {
			return 0, "", fmt.Errorf("%w: %s: %d to %q: use a path on this site, or add the host to redirect_hosts", ErrFragmentRedirect, f.Name, sc, truncate([]byte(loc), 80))
		}
		return sc, loc, nil
	default:
		return 0, "", fmt.Errorf("%w: %s: %d", ErrFragmentStatus, f.Name, sc)
	}
}

// allowedRedirect reports whether a primary may send the browser to loc: a
// path on this site, or an http(s) URL whose host is one of hosts.
func allowedRedirect(loc string, hosts []string) bool {
	if protocol.SitePath(loc) {
		return true
	}
	if len(hosts) == 0 || len(loc) > 2048 || strings.ContainsAny(loc, "\\ \t\r\n") {
		return false
	}
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Host == "" {
		return false
	}
	return slices.Contains(hosts, strings.ToLower(u.Host))
}

// answerHead reads the head headers of an answer; a value that does not
// decode, is over its bound, or is not of its form is dropped.
func answerHead(resp *fasthttp.Response) Head {
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

// answerCookies copies the Set-Cookie values of an answer whose fragment
// may set cookies, bounded; it reports whether the answer set any at all.
func answerCookies(f *Fragment, resp *fasthttp.Response) (cookies [][]byte, any bool) {
	all := resp.Header.PeekAll(fasthttp.HeaderSetCookie)
	if !f.SetCookies {
		return nil, len(all) > 0
	}
	for _, c := range all {
		if len(cookies) < maxCookies && len(c) <= maxCookieBytes {
			cookies = append(cookies, append([]byte(nil), c...))
		}
	}
	return cookies, len(all) > 0
}

// assetHref is where the page links a fragment's asset: its assets_url
// when one is configured, else the composer's /_fragments/NAME route.
func assetHref(f *Fragment, a protocol.Asset) string {
	if f.AssetsURL != "" {
		return f.AssetsURL + a.Path
	}
	return "/_fragments/" + f.Name + a.Path
}

// rememberAssets notes the assets of a fragment's latest answer, for the
// early hints of the pages that follow and for the asset route.
func (fr *fragRuntime) rememberAssets(as []protocol.Asset) {
	if len(as) == 0 && fr.assets.Load() == nil {
		return
	}
	if old := fr.assets.Load(); old != nil && slices.Equal(*old, as) {
		return
	}
	cp := slices.Clone(as)
	fr.assets.Store(&cp)
	fr.known.add(as)
}

// learn notes what a fragment's fresh answer declared: its assets, whether
// it was for one user alone, and the Link values refused (logged once for
// the answer, counted).
func (c *Composer) learn(fr *fragRuntime, a *answer) {
	var as []protocol.Asset
	if a.meta != nil {
		as = a.meta.Assets
	}
	fr.rememberAssets(as)
	if a.shareable {
		fr.sharing.Store(sharingShared)
	} else {
		fr.sharing.Store(sharingPrivate)
	}
	if a.refusedAssets > 0 {
		fr.m.assetsRefused.Add(a.refusedAssets)
		c.log.Warn("fragment assets refused", "fragment", fr.f.Name, "refused", a.refusedAssets,
			"want", protocol.AssetRule, "max", protocol.MaxAssets)
	}
}

// Assets returns the assets a fragment declared in its latest answer, as
// the page links them.
func (c *Composer) Assets(name string) []string {
	fr := c.rt.Load().fragment(name)
	if fr == nil {
		return nil
	}
	p := fr.assets.Load()
	if p == nil {
		return nil
	}
	out := make([]string, len(*p))
	for i, a := range *p {
		out[i] = a.Kind.String() + " " + assetHref(fr.f, a)
	}
	return out
}

// knownAssets are the asset paths a fragment has declared since the
// composer started: the only ones its /_fragments route fetches.
type knownAssets struct {
	paths atomic.Pointer[[]string]
}

// maxKnownAssets bounds the paths remembered per fragment; the oldest go.
const maxKnownAssets = 64

func (k *knownAssets) add(as []protocol.Asset) {
	for {
		old := k.paths.Load()
		var cur []string
		if old != nil {
			cur = *old
		}
		next := cur
		for _, a := range as {
			if !slices.Contains(next, a.Path) {
				if len(next) == len(cur) {
					next = slices.Clone(cur)
				}
				next = append(next, a.Path)
			}
		}
		if len(next) == len(cur) {
			return
		}
		if len(next) > maxKnownAssets {
			next = next[len(next)-maxKnownAssets:]
		}
		if k.paths.CompareAndSwap(old, &next) {
			return
		}
	}
}

func (k *knownAssets) has(path string) bool {
	p := k.paths.Load()
	return p != nil && slices.Contains(*p, path)
}
