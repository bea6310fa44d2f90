package composer

import (
	"slices"
	"sync/atomic"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// What a fragment's answer carries besides its markup: its assets and, for
// a primary, the page's status, redirect and head (docs/fragment-contract.md).

// Meta and Head are what an answer declared besides its markup, as
// package upstream reads it; an Entry keeps its Meta.
type (
	Meta = upstream.Meta
	Head = upstream.Head
)

// assetHref is where the page links a fragment's asset: its assets_url
// when one is configured, else the composer's /_fragments/NAME route.
func assetHref(f *config.Fragment, a protocol.Asset) string {
	if f.AssetsURL != "" {
		return f.AssetsURL + a.Path
	}
	return "/_fragments/" + f.Name + a.Path
}

// learnAssets notes the assets of a fragment's latest answer with markup
// (a redirect has none to declare).
func (fr *fragRuntime) learnAssets(m *Meta) {
	switch {
	case m == nil:
		fr.rememberAssets(nil)
	case m.Location == "":
		fr.rememberAssets(m.Assets)
	}
}

// rememberAssets notes the assets of a fragment's latest answer, for the
// early hints of the pages that follow and for the asset route.
func (fr *fragRuntime) rememberAssets(as []protocol.Asset) {
	if old := fr.assets.Load(); old == nil && len(as) == 0 || old != nil && slices.Equal(*old, as) {
		return
	}
	cp := slices.Clone(as)
	fr.assets.Store(&cp)
	fr.known.add(as)
}

// learn notes what a fragment's fresh answer declared: its assets, whether
// it was for one user alone, and the Link values refused (logged once for
// the answer, counted).
func (c *Composer) learn(fr *fragRuntime, a *upstream.Answer) {
	fr.learnAssets(a.Meta)
	if a.Shareable {
		fr.sharing.Store(sharingShared)
	} else {
		fr.sharing.Store(sharingPrivate)
	}
	if a.RefusedAssets > 0 {
		fr.m.assetsRefused.Add(a.RefusedAssets)
		c.log.Warn("fragment assets refused", "fragment", fr.f.Name, "refused", a.RefusedAssets,
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
