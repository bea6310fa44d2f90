package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/tessera-dev/tessera/composer/upstream"
)

// Site is a compiled, validated configuration: what the composer serves.
// It is immutable; a reload builds a new Site and swaps it in atomically.
type Site struct {
	Debug bool
	// NearCache is how long entries read from a shared cache are kept in
	// memory (0: not at all).
	NearCache time.Duration
	// Limits bound each page's nested composition.
	Limits    Limits
	Inputs    map[string]InputConfig
	Fragments map[string]*Fragment
	Pages     map[string]*Page
	// patterns are the pages whose path has {name} segments, in config
	// order; they are tried after the exact paths.
	patterns []*Page
	// crawlers are lowercase User-Agent substrings of clients served every
	// slot in document order.
	crawlers [][]byte
	// EarlyHints is when a page starts with 103 Early Hints naming the
	// assets its fragments declared last time.
	EarlyHints EarlyHints
	// CSP is the pages' Content-Security-Policy ("" for none); each page
	// puts a nonce of its own for {nonce}.
	CSP string
	// AdminHosts are the config's admin.hosts: further names the admin
	// API and dashboard answer to.
	AdminHosts []string
}

// Route finds the page for a request path, and the values of its {name}
// segments. A segment value must be a valid input value.
func (s *Site) Route(path string) (*Page, map[string]string) {
	if p, ok := s.Pages[path]; ok && len(p.segments) == 0 {
		return p, nil
	}
	for _, p := range s.patterns {
		if params, ok := p.match(path); ok {
			return p, params
		}
	}
	return nil, nil
}

func (p *Page) match(path string) (map[string]string, bool) {
	rest := path
	var params map[string]string
	for _, seg := range p.segments {
		if len(rest) == 0 || rest[0] != '/' {
			return nil, false
		}
		rest = rest[1:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		part := rest[:end]
		rest = rest[end:]
		if seg.param == "" {
			if part != seg.literal {
				return nil, false
			}
			continue
		}
		if !valuePattern.MatchString(part) || len(seg.values) > 0 && !slices.Contains(seg.values, part) {
			return nil, false
		}
		if params == nil {
			params = make(map[string]string, 1)
		}
		params[seg.param] = part
	}
	return params, rest == ""
}

// segment is one /-separated part of a page path: a literal, or a {param}.
type segment struct {
	literal, param string
	// values is the param's allowlist (inputs.NAME.values): a path with
	// any other value matches no page.
	values []string
}

// parsePath splits a page path into segments and reports its parameters.
func parsePath(path string) ([]segment, []string, error) {
	var segs []segment
	var params []string
	for _, part := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			name := part[1 : len(part)-1]
			if !namePattern.MatchString(name) {
				return nil, nil, fmt.Errorf("path parameter %q must match %s", name, namePattern)
			}
			segs = append(segs, segment{param: name})
			params = append(params, name)
			continue
		}
		if strings.ContainsAny(part, "{}") {
			return nil, nil, fmt.Errorf("%q: a parameter takes a whole segment, like /news/{story}", path)
		}
		segs = append(segs, segment{literal: part})
	}
	return segs, params, nil
}

// AuthKind is how the composer authenticates to a fragment service.
type AuthKind = upstream.AuthKind

// The supported authentication kinds.
const (
	AuthNone   = upstream.AuthNone
	AuthBearer = upstream.AuthBearer
	AuthHMAC   = upstream.AuthHMAC
)

// Fragment is one fragment service as the composer calls it.
type Fragment struct {
	Name string
	URL  string
	// TTL is how long a copy is fresh; when TTLSet is false the fragment's
	// own Cache-Control decides.
	TTL    time.Duration
	TTLSet bool
	// SWR is the stale-while-revalidate window after the TTL; SIE the
	// stale-if-error window.
	SWR, SIE time.Duration
	Timeout  time.Duration
	Fallback []byte
	// Fallbacks are the fallbacks by slot view.
	Fallbacks      map[string][]byte
	Primary        bool
	MaxBytes       int
	Vary           []string
	ForwardHeaders []string
	ForwardCookies []string
	Auth           AuthKind
	// secret is the credential of Auth, read from the environment; only
	// Secret gives it, so that nothing marshals it by accident.
	secret string
	// Breaker tunes its circuit breaker.
	Breaker upstream.BreakerSettings
	// MaxKeys bounds the distinct cache keys it stores per window when
	// it varies by an input without an allowlist; 0 when it does not.
	MaxKeys int
	// Version is the accepted version range ("" accepts any).
	Version      string
	versionRange *semver.Constraints
	// Nest names the fragments this one's markup may place.
	Nest []string
	// Params are the slot parameters this fragment may be placed with,
	// each with its accepted values (empty: any); nil when not declared.
	Params map[string][]string
	// SetCookies lets the fragment's Set-Cookie reach the browser, from
	// primary slots only.
	SetCookies bool
	// AssetsURL, when set, is where pages link the fragment's assets
	// (its asset paths appended) instead of the composer's /_fragments
	// route.
	AssetsURL string
	// origin is the fragment service's scheme://host, where its assets
	// are fetched.
	origin string
	// redirectHosts are the hosts besides this site a primary may
	// redirect to (the site's redirect_hosts).
	redirectHosts []string
}

// Secret is the credential the composer authenticates to f with ("" for
// AuthNone). It must never reach a log, a metric, a page or the admin API.
func (f *Fragment) Secret() string { return f.secret }

// Origin is the fragment service's scheme://host, where its assets are
// fetched.
func (f *Fragment) Origin() string { return f.origin }

// RedirectHosts are the hosts besides the site a primary of f may
// redirect the page to.
func (f *Fragment) RedirectHosts() []string { return f.redirectHosts }

// AllowsParam reports whether a slot may place f with k=v.
func (f *Fragment) AllowsParam(k, v string) bool {
	vals, ok := f.Params[k]
	return ok && (len(vals) == 0 || slices.Contains(vals, v))
}

// AcceptsVersion reports whether an answer of version v may be used.
func (f *Fragment) AcceptsVersion(v string) bool {
	if f.versionRange == nil {
		return true
	}
	sv, err := semver.StrictNewVersion(v)
	return err == nil && f.versionRange.Check(sv)
}

// Page is a route with its compiled layout.
type Page struct {
	layout     string
	Path       string
	Title      string
	parts      []Part
	slots      []*Slot
	hasPrimary bool
	stream     StreamMode
	// order is the page's default delivery of its slots when it streams.
	order Order
	// fragments are the fragments the page may hold, nested ones
	// included; vary is its Vary header.
	fragments []string
	vary      string
	// segments are set when the path has {name} parameters.
	segments []segment
}

// StreamMode says whether a page streams: auto streams when an outstanding
// fragment is typically slow; always and never force it.
type StreamMode int

// The stream settings.
const (
	StreamAuto StreamMode = iota
	StreamAlways
	StreamNever
)

// LayoutName is the layout the page was built from (a built-in name or
// the file's path as configured).
func (p *Page) LayoutName() string { return p.layout }

// Slots lists the page's slots in document order.
func (p *Page) Slots() []*Slot { return p.slots }

// Parts is the page's layout: static HTML and slots, in document order.
func (p *Page) Parts() []Part { return p.parts }

// HasPrimary reports whether a slot of the page is primary.
func (p *Page) HasPrimary() bool { return p.hasPrimary }

// Stream is the page's stream setting.
func (p *Page) Stream() StreamMode { return p.stream }

// Fragments are the fragments the page may hold: its slots' and those
// they may nest.
func (p *Page) Fragments() []string { return p.fragments }

// Vary is the page's Vary header: Accept-Encoding and the request values
// its fragments read.
func (p *Page) Vary() string { return p.vary }

// Slot is one place in a page where a fragment goes.
type Slot struct {
	Fragment *Fragment
	Primary  bool
	// params is the slot's own query (from the marker), already encoded.
	params string
	index  int
	// order and reserve come from the marker's order= and reserve=:
	// how the slot is delivered on a streamed page, and the min-height
	// its placeholder keeps.
	order   Order
	reserve string
	// fallback is what the slot shows when the fragment cannot be
	// served and has no stale copy: the fallback for its view, else the
	// fragment's ("" for the empty placeholder).
	fallback []byte
}

// Params is the slot's own query from its marker, already encoded.
func (s *Slot) Params() string { return s.params }

// Index is the slot's place among its page's slots (0 for a nested one).
func (s *Slot) Index() int { return s.index }

// Reserve is the min-height (a CSS length) the slot's placeholder keeps
// on a page delivered out of order ("" for none).
func (s *Slot) Reserve() string { return s.reserve }

// Fallback is what the slot shows when its fragment cannot be served and
// has no stale copy: the fallback for its view, else the fragment's (nil
// for the empty placeholder).
func (s *Slot) Fallback() []byte { return s.fallback }

// Part is a piece of a page's layout: static HTML, or a slot.
type Part struct {
	Static []byte
	Slot   *Slot
}
