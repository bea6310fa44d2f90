package composer

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// plan is step 1 of a page: everything the later steps need, worked out
// from the config and the request values alone, with no I/O. It is not
// changed once made, but for its budget, which nested slots draw on.
type plan struct {
	page *page
	req  request
	// slots are the page's own slots, in document order.
	slots []plannedSlot
	// deadline bounds the whole page, nested levels included: the
	// slowest slot's timeout and a second.
	deadline time.Duration
	budget   *budget
}

// plannedSlot is one slot to fill: its cache key, the upstream call and
// where it sits in the page.
type plannedSlot struct {
	slot *config.Slot
	key  string
	// flight is the coalescing key: the cache key and the user's
	// forwarded values, so that distinct users never share a fetch.
	flight string
	req    upstream.Request
	// spanID is sent to the fragment in traceparent; parentSpan is the
	// page's span or, nested, the enclosing slot's.
	spanID, parentSpan string
	// chain is the fragment names from the page's slot down to this one.
	chain []string
}

// name is how the slot is reported: its fragment, prefixed by the
// fragments it is nested in ("topbar.weather").
func (ps *plannedSlot) name() string {
	if len(ps.chain) == 1 {
		return ps.chain[0]
	}
	return strings.Join(ps.chain, ".")
}

// planPage plans a page's own slots.
func planPage(site *config.Site, p *page, req request, t *Tuning) plan {
	pl := plan{page: p, req: req, slots: make([]plannedSlot, len(p.Slots())), budget: newBudget(site.Limits, len(p.Slots()))}
	for i, s := range p.Slots() {
		pl.slots[i] = planSlot(s, req, t, p.chains[i], req.ids.spanID)
		pl.deadline = max(pl.deadline, s.Fragment.Timeout)
	}
	pl.deadline += time.Second
	return pl
}

// planSlot works out one slot's key and upstream request, with only what
// the fragment's config allows forwarded, plus the request id and trace
// context. chain is the slot's fragment names from the page's slot down.
func planSlot(s *config.Slot, req request, t *Tuning, chain []string, parentSpan string) plannedSlot {
	f := s.Fragment
	q := slotQuery(s, req.inputs)
	ps := plannedSlot{
		slot:       s,
		key:        cacheKey(f, t.Generation(f.Name), q),
		req:        upstream.Request{URL: buildURL(f.URL, q)},
		parentSpan: parentSpan,
		chain:      chain,
	}
	var traceparent string
	ps.spanID, traceparent = req.ids.childSpan()
	ps.req.Headers = make([][2]string, 0, 2+len(f.ForwardHeaders))
	ps.req.Headers = append(ps.req.Headers, [2]string{protocol.HeaderRequestID, req.ids.requestID}, [2]string{protocol.HeaderTraceparent, traceparent})
	var personal strings.Builder
	for _, h := range f.ForwardHeaders {
		if v, ok := req.fwd.headers[h]; ok {
			ps.req.Headers = append(ps.req.Headers, [2]string{h, v})
			personal.WriteString("h\x00" + h + "\x00" + v + "\x00")
		}
	}
	for _, c := range f.ForwardCookies {
		if v, ok := req.fwd.cookies[c]; ok {
			ps.req.Cookies = append(ps.req.Cookies, [2]string{c, v})
			personal.WriteString("c\x00" + c + "\x00" + v + "\x00")
		}
	}
	ps.req.Personal = personal.String()
	ps.flight = ps.key
	if ps.req.Personal != "" {
		ps.flight += "\x00" + ps.req.Personal
	}
	return ps
}

// nestedPlan is the plan for the markers found in one fragment answer:
// the answer's parts, and for each the slot that fills it or what is left
// in its place.
type nestedPlan struct {
	parts []nestedPart
	slots []plannedSlot
	// own is the bytes the answer itself puts on the page: its static
	// parts and the placeholders of refused markers.
	own int
}

// nestedPart is one piece of a nested answer: static bytes, or the index
// of the slot that fills it.
type nestedPart struct {
	static []byte
	slot   int // -1 for static
}

// planNested plans the slot markers in body, the answer of parent, drawing
// on the page's budget. A marker is filled only when the parent's config
// lets it place that fragment with those parameters, the depth, the
// markers per answer and the page's slots allow it, and it is no cycle;
// markers past the answer's limit are dropped, others refused leave an
// empty placeholder. Refusals are counted in b.
func planNested(site *config.Site, body []byte, parent *plannedSlot, req request, t *Tuning, b *budget) nestedPlan {
	parts, err := protocol.ParseMarkers(body)
	if err != nil {
		b.refuse(refusedBadSlot)
		return nestedPlan{parts: []nestedPart{{static: body, slot: -1}}, own: len(body)}
	}
	var np nestedPlan
	np.parts = make([]nestedPart, 0, len(parts))
	markers := 0
	for _, p := range parts {
		if p.Marker == nil {
			np.parts = append(np.parts, nestedPart{static: p.Static, slot: -1})
			np.own += len(p.Static)
			continue
		}
		markers++
		if markers > site.Limits.MarkersPerAnswer {
			b.refuse(refusedMarkers)
			continue
		}
		s, why := admit(site, p.Marker, parent, b)
		if why != admitted {
			b.refuse(why)
			e := refusedPlaceholder(site, p.Marker.Name)
			np.parts = append(np.parts, nestedPart{static: e, slot: -1})
			np.own += len(e)
			continue
		}
		np.parts = append(np.parts, nestedPart{slot: len(np.slots)})
		chain := append(parent.chain[:len(parent.chain):len(parent.chain)], s.Fragment.Name)
		np.slots = append(np.slots, planSlot(s, req, t, chain, parent.spanID))
	}
	return np
}

// admit decides whether a marker found in parent's answer is filled: it
// returns the bound slot, or why not. A slot taken from the page's budget
// is only taken when everything else allows the marker.
func admit(site *config.Site, m *protocol.Marker, parent *plannedSlot, b *budget) (*config.Slot, refusal) {
	pf := parent.slot.Fragment
	switch {
	case len(parent.chain) >= site.Limits.Depth:
		return nil, refusedDepth
	case slices.Contains(parent.chain, m.Name):
		return nil, refusedCycle
	case site.Fragments[m.Name] == nil:
		return nil, refusedUnknown
	case !slices.Contains(pf.Nest, m.Name):
		return nil, refusedNotAllowed
	}
	s, err := config.BindNested(m, site.Fragments[m.Name])
	if err != nil {
		return nil, refusedBadSlot
	}
	if !b.takeSlot() {
		return nil, refusedSlots
	}
	return s, admitted
}

// refusedPlaceholder is what a refused marker leaves on the page; names
// from fragment markup that are not configured are not echoed.
func refusedPlaceholder(site *config.Site, name string) []byte {
	if site.Fragments[name] != nil {
		return emptySlot(name)
	}
	return anonymousEmpty
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
func slotQuery(s *config.Slot, inputs map[string]string) string {
	if len(s.Fragment.Vary) == 0 {
		return s.Params()
	}
	var b strings.Builder
	b.WriteString(s.Params())
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
