package composer

import (
	"bytes"
	"context"
	"crypto/rand"
	"html"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/zparts"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// A page's head and headers as its fragments shape them: the primary's
// status, redirect, title and meta; each fragment's assets, placed once;
// early hints; Cache-Control and Vary.

// headCuts is where a page's first static part is cut so that its head
// can take what the page's fragments add: the title element, and the end
// of the head.
type headCuts struct {
	// ok is set when the part holds </head>.
	ok bool
	// title is the layout's title element [titleStart:titleEnd] (-1 when
	// it has none) and headEnd where </head> starts.
	titleStart, titleEnd, headEnd int
	// titleText is the layout's title as text, and pageTitle the page's
	// own title within it, which a primary's title replaces.
	titleText, pageTitle string
	// blocks are the part's pieces around the cuts, compressed once:
	// before the title, the title, after it up to </head>, and the rest.
	blocks [4]*zparts.Block
}

// cutHead finds the head of a page's first static part.
func (p *page) cutHead() {
	if len(p.parts) == 0 || p.parts[0].slot != nil {
		return
	}
	st := p.parts[0].static
	h := headCuts{titleStart: -1, titleEnd: -1, headEnd: bytes.Index(st, []byte("</head>")), pageTitle: p.Title}
	if h.headEnd < 0 {
		return
	}
	h.ok = true
	if i := bytes.Index(st[:h.headEnd], []byte("<title>")); i >= 0 {
		if j := bytes.Index(st[i:h.headEnd], []byte("</title>")); j >= 0 {
			h.titleStart, h.titleEnd = i, i+j+len("</title>")
			h.titleText = html.UnescapeString(string(st[i+len("<title>") : i+j]))
		}
	}
	before, after := h.headEnd, h.headEnd
	if h.titleStart >= 0 {
		before, after = h.titleStart, h.titleEnd
		h.blocks[1] = zparts.NewBlock(st[h.titleStart:h.titleEnd])
	}
	h.blocks[0] = zparts.NewBlock(st[:before])
	h.blocks[2] = zparts.NewBlock(st[after:h.headEnd])
	h.blocks[3] = zparts.NewBlock(st[h.headEnd:])
	p.head = h
}

// title is the page's document title with the primary's title in place of
// the page's own.
func (h *headCuts) title(t string) string {
	if h.pageTitle != "" && strings.Contains(h.titleText, h.pageTitle) {
		return strings.Replace(h.titleText, h.pageTitle, t, 1)
	}
	return t
}

// writeHead writes the page's first static part, with the primary's head
// and the stylesheets of the slots already in placed before </head>.
func (r *pageRun) writeHead(out *pageOut, part pagePart) {
	h := &r.pl.page.head
	head := r.primaryHead()
	var links []byte
	if h.ok {
		for _, sr := range r.top {
			if isDone(sr) {
				links = r.assetTags(links, sr, protocol.Stylesheet)
			}
		}
	}
	if !h.ok || head.Empty() && len(links) == 0 {
		out.static(part.static, part.block)
		return
	}
	st := part.static
	before, after := h.headEnd, h.headEnd // the layout's title element, if any
	if h.titleStart >= 0 {
		before, after = h.titleStart, h.titleEnd
	}
	out.static(st[:before], h.blocks[0])
	switch {
	case head.Title != "":
		out.component(titleTag(h.title(head.Title)))
	case h.titleStart >= 0:
		out.static(st[before:after], h.blocks[1])
	}
	out.static(st[after:h.headEnd], h.blocks[2])
	if !head.Empty() {
		out.component(headTags(head))
	}
	out.raw(links)
	out.static(st[h.headEnd:], h.blocks[3])
}

// primaryHead is the head the page's primary slots set (the first one
// that sets a field wins).
func (r *pageRun) primaryHead() Head {
	var h Head
	for _, sr := range r.top {
		if !sr.ps.slot.Primary || sr.res.meta == nil {
			continue
		}
		m := sr.res.meta.Head
		h.Title = orElse(h.Title, m.Title)
		h.Description = orElse(h.Description, m.Description)
		h.Canonical = orElse(h.Canonical, m.Canonical)
		h.Robots = orElse(h.Robots, m.Robots)
	}
	return h
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeSlot writes a slot: the stylesheets it brings that are not on the
// page yet, its markup, then its scripts not on the page yet.
func (r *pageRun) writeSlot(out *pageOut, sr *slotRun) {
	out.raw(r.assetTags(out.scratch(), sr, protocol.Stylesheet))
	out.slot(&sr.res)
	out.raw(r.assetTags(out.scratch(), sr, protocol.Script))
}

// assetTags appends the tags of the slot's assets of kind (its nested
// slots' included) that the page does not hold yet, and notes them as
// placed. Only the page's writer calls it.
func (r *pageRun) assetTags(dst []byte, sr *slotRun, kind protocol.AssetKind) []byte {
	if sr.res.meta != nil {
		for _, a := range sr.res.meta.Assets {
			dst = r.assetTag(dst, pageAsset{sr.ps.slot.Fragment, a}, kind)
		}
	}
	for _, pa := range sr.res.nestedAssets {
		dst = r.assetTag(dst, pa, kind)
	}
	return dst
}

func (r *pageRun) assetTag(dst []byte, pa pageAsset, kind protocol.AssetKind) []byte {
	if pa.a.Kind != kind || slices.ContainsFunc(r.placed, pa.same) {
		return dst
	}
	r.placed = append(r.placed, pa)
	return append(dst, renderedTag(pa, r.nonce)...)
}

// same reports whether two assets are one: the same fragment's same path.
func (pa pageAsset) same(o pageAsset) bool { return pa.f.Name == o.f.Name && pa.a == o.a }

// The pieces placing an asset — its tag, its Link value — are rendered
// once per asset (up to maxPieces of them), not per page.
var (
	pieces  sync.Map // pieceKey -> []byte
	nPieces atomic.Int64
)

type pieceKey struct {
	frag string
	a    protocol.Asset
	// assetsURL is part of the key: a reload may change it.
	assetsURL string
	hint      bool
}

const maxPieces = 4096

func cachedPiece(pa pageAsset, hint bool, render func() []byte) []byte {
	key := pieceKey{pa.f.Name, pa.a, pa.f.AssetsURL, hint}
	if b, ok := pieces.Load(key); ok {
		return b.([]byte)
	}
	b := render()
	if nPieces.Load() < maxPieces {
		if _, loaded := pieces.LoadOrStore(key, b); !loaded {
			nPieces.Add(1)
		}
	}
	return b
}

// renderedTag is the tag placing an asset; a page with a CSP nonce gets
// one of its own.
func renderedTag(pa pageAsset, nonce string) []byte {
	render := func() []byte {
		var buf bytes.Buffer
		_ = assetTag(pa.a.Kind == protocol.Script, assetHref(pa.f, pa.a), nonce).Render(context.Background(), &buf)
		return buf.Bytes()
	}
	if nonce != "" {
		return render()
	}
	return cachedPiece(pa, false, render)
}

// hintValue is the Link value preloading an asset: scripts are placed as
// modules, so they are hinted as such.
func hintValue(pa pageAsset) []byte {
	return cachedPiece(pa, true, func() []byte {
		v := append([]byte{'<'}, assetHref(pa.f, pa.a)...)
		if pa.a.Kind == protocol.Script {
			return append(v, ">; rel=modulepreload"...)
		}
		return append(v, ">; rel=preload; as=style"...)
	})
}

// component renders a small per-request piece of markup.
func (o *pageOut) component(c templ.Component) {
	buf := bytes.NewBuffer(o.scratch())
	_ = c.Render(context.Background(), buf)
	o.piece(buf.Bytes())
}

// hint sends 103 Early Hints, before anything is fetched, with the assets
// the page's fragments declared last time, and keeps the same Link values
// for the page itself.
func (r *pageRun) hint(rc *fasthttp.RequestCtx) {
	var hinted []pageAsset
	for _, name := range r.pl.page.Fragments() {
		fr := r.rt.fragment(name)
		p := fr.assets.Load()
		if p == nil {
			continue
		}
		for _, a := range *p {
			pa := pageAsset{fr.f, a}
			if !slices.ContainsFunc(hinted, pa.same) {
				hinted = append(hinted, pa)
				rc.Response.Header.AddBytesV(protocol.HeaderLink, hintValue(pa))
			}
		}
	}
	if len(hinted) > 0 && hintsTo(r.rt.site.EarlyHints, &rc.Request.Header) {
		_ = rc.EarlyHints() // a client that went away fails later, on the page
	}
}

// hintsTo reports whether a request with header h gets early hints.
func hintsTo(e config.EarlyHints, h *fasthttp.RequestHeader) bool {
	switch e {
	case config.HintsAlways:
		return true
	case config.HintsDirect:
		return h.Peek("Via") == nil && h.Peek("Forwarded") == nil && h.Peek("X-Forwarded-For") == nil
	}
	return false
}

// setPolicy sets the page's Content-Security-Policy, when the site has
// one, with a nonce of its own that the composer's scripts carry.
func (r *pageRun) setPolicy(rc *fasthttp.RequestCtx) {
	if r.rt.site.CSP == "" {
		return
	}
	r.nonce = rand.Text() // unpredictable, unlike the ids
	rc.Response.Header.Set("Content-Security-Policy", strings.ReplaceAll(r.rt.site.CSP, "{nonce}", r.nonce))
}

// setCaching sets the page's Cache-Control and Vary from its fragments:
// private when any slot's answer was for this user alone (or was last
// time), when a slot was sent the user's forwarded values, or when the
// page sets cookies.
func (r *pageRun) setCaching(rc *fasthttp.RequestCtx, setsCookies bool) {
	private := setsCookies
	for _, sr := range r.top {
		private = private || sr.ps.req.Personal != "" || isDone(sr) && sr.res.private
	}
	for _, name := range r.pl.page.Fragments() {
		private = private || r.rt.fragment(name).private()
	}
	if private {
		rc.Response.Header.Set(fasthttp.HeaderCacheControl, "private, no-cache")
	} else {
		rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	}
	rc.Response.Header.Set(fasthttp.HeaderVary, r.pl.page.Vary())
}
