package fragment

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Head is what a primary fragment says about the page it is the heart of:
// its title, meta description, canonical path and robots directive. Empty
// fields are not sent.
type Head struct {
	// Title replaces the page's own title; longer than protocol.MaxTitle
	// bytes, it is cut.
	Title string
	// Description becomes <meta name="description">; longer than
	// protocol.MaxDescription bytes, it is cut.
	Description string
	// Canonical becomes <link rel="canonical">: a path on the site such as
	// "/news/night-trains-return" (protocol.SitePath), at most
	// protocol.MaxCanonical bytes. Anything else is not sent.
	Canonical string
	// Robots becomes <meta name="robots">, such as "noindex, follow"
	// (protocol.ValidRobots). Anything else is not sent.
	Robots string
}

// SetHead sets the answer's head headers (X-Fragment-Title and the
// others), each percent-encoded with protocol.EncodeHeadValue. Call it in
// a SnippetFunc; the composer uses them when the slot is primary and
// ignores them otherwise. Control characters become spaces and invalid
// UTF-8 is dropped; a title or description over its bound is cut at a
// character boundary; a canonical or robots value that is not valid is
// not sent, since a cut one would be wrong.
func SetHead(ctx *fasthttp.RequestCtx, h Head) {
	setHead(ctx, protocol.HeaderTitle, cut(clean(h.Title), protocol.MaxTitle))
	setHead(ctx, protocol.HeaderDescription, cut(clean(h.Description), protocol.MaxDescription))
	canonical := ""
	if len(h.Canonical) <= protocol.MaxCanonical && protocol.SitePath(h.Canonical) {
		canonical = h.Canonical
	}
	setHead(ctx, protocol.HeaderCanonical, canonical)
	robots := ""
	if protocol.ValidRobots(h.Robots) {
		robots = h.Robots
	}
	setHead(ctx, protocol.HeaderRobots, robots)
}

func setHead(ctx *fasthttp.RequestCtx, name, v string) {
	if v == "" {
		ctx.Response.Header.Del(name)
		return
	}
	ctx.Response.Header.Set(name, protocol.EncodeHeadValue(v))
}

// headHeaders are the headers SetHead may have set, dropped from an
// answer that turns into an error.
var headHeaders = []string{protocol.HeaderTitle, protocol.HeaderDescription, protocol.HeaderCanonical, protocol.HeaderRobots}

// clean makes s valid UTF-8 with no control characters, which the
// composer would refuse, and trims it.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// cut shortens s to at most max bytes without splitting a character.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}
