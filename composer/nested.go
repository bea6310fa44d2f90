package composer

import (
	"bytes"
	"slices"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/internal/protocol"
)

func hasMarker(body []byte) bool { return protocol.HasMarker(body) }

// anonymousEmpty is the placeholder for a refused marker whose name is not
// a configured fragment.
var anonymousEmpty = renderEmpty("")

// expand fills the slots nested in a slot's answer — nested composition
// re-enters the pipeline: plan the answer's markers, look them up in one
// round trip, fan out to the missing ones — and takes what it writes from
// the page's byte budget. An answer whose own markup does not fit is left
// empty. The slot takes on its nested slots' assets and privacy.
func (r *pageRun) expand(res *slotResult, parent *plannedSlot) {
	var children []*slotRun
	res.body, children = r.expandBody(res.body, parent)
	for _, ch := range children {
		res.nestedAssets = ch.res.appendAssets(res.nestedAssets, ch.ps.slot.Fragment)
		res.private = res.private || ch.res.private
	}
}

// pageAsset is an asset of one of the page's fragments.
type pageAsset struct {
	f *config.Fragment
	a protocol.Asset
}

// appendAssets appends the assets of a slot of f, its nested slots'
// included, that dst does not hold yet.
func (res *slotResult) appendAssets(dst []pageAsset, f *config.Fragment) []pageAsset {
	if res.meta != nil {
		for _, a := range res.meta.Assets {
			if pa := (pageAsset{f, a}); !slices.Contains(dst, pa) {
				dst = append(dst, pa)
			}
		}
	}
	for _, pa := range res.nestedAssets {
		if !slices.Contains(dst, pa) {
			dst = append(dst, pa)
		}
	}
	return dst
}

// expandBody is expand's markup, and the nested slots that filled it.
func (r *pageRun) expandBody(body []byte, parent *plannedSlot) ([]byte, []*slotRun) {
	name := parent.slot.Fragment.Name
	if !hasMarker(body) {
		return r.charge(body, name), nil
	}
	np := planNested(r.rt.site, body, parent, r.pl.req, r.c.tuning.Load(), r.pl.budget)
	if !r.pl.budget.takeBytes(np.own) {
		return r.overBytes(name), nil
	}
	children := make([]*slotRun, len(np.slots))
	for i := range np.slots {
		children[i] = &slotRun{ps: &np.slots[i]}
	}
	if len(children) > 0 {
		r.mu.Lock()
		r.nested = append(r.nested, children...)
		r.mu.Unlock()
		pending := r.classify(children, r.lookup(np.slots))
		r.fanOut(pending, true)
		for _, ch := range pending {
			<-ch.done
		}
	}
	var out bytes.Buffer
	out.Grow(np.own + len(children)*256)
	for _, p := range np.parts {
		if p.slot < 0 {
			out.Write(p.static)
			continue
		}
		out.Write(children[p.slot].res.body)
	}
	return out.Bytes(), children
}

// charge takes a fragment's markup from the page's byte budget.
func (r *pageRun) charge(body []byte, name string) []byte {
	if r.pl.budget.takeBytes(len(body)) {
		return body
	}
	return r.overBytes(name)
}

// overBytes is what markup that does not fit the page's bytes leaves: its
// fragment's empty placeholder, or nothing once even that does not fit.
func (r *pageRun) overBytes(name string) []byte {
	r.pl.budget.refuse(refusedBytes)
	if e := emptySlot(name); r.pl.budget.takeBytes(len(e)) {
		return e
	}
	return nil
}
