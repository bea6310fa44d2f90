package composer

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// forwardable holds the request headers and cookies that any fragment of
// the site may be sent, copied out of the RequestCtx so that nested
// fragments resolved after the handler returned can still be sent them.
type forwardable struct {
	headers map[string]string
	cookies map[string]string
}

func readForwardable(rc *fasthttp.RequestCtx, site *Site) forwardable {
	var fw forwardable
	for _, f := range site.Fragments {
		for _, h := range f.ForwardHeaders {
			if v := rc.Request.Header.Peek(h); len(v) > 0 && len(v) <= 4096 {
				if fw.headers == nil {
					fw.headers = make(map[string]string)
				}
				fw.headers[h] = string(v)
			}
		}
		for _, c := range f.ForwardCookies {
			if v := rc.Request.Header.Cookie(c); len(v) > 0 && len(v) <= 4096 {
				if fw.cookies == nil {
					fw.cookies = make(map[string]string)
				}
				fw.cookies[c] = string(v)
			}
		}
	}
	return fw
}

// newSlotRun prepares a slot: its cache key and the upstream request, with
// only what the fragment's config allows forwarded, plus the request id and
// trace context.
func (r *pageRun) newSlotRun(s *Slot) slotRun {
	f := s.Fragment
	q := slotQuery(s, r.inputs)
	sr := slotRun{
		slot:   s,
		key:    cacheKey(f, r.c.tuning.Load().generation(f.Name), q),
		req:    fetchRequest{url: buildURL(f.URL, q)},
		spanID: newID(8),
	}
	sr.req.headers = make([][2]string, 0, 2+len(f.ForwardHeaders))
	sr.req.headers = append(sr.req.headers, [2]string{"X-Request-Id", r.ids.requestID}, [2]string{"traceparent", r.ids.traceparent(sr.spanID)})
	var personal strings.Builder
	for _, h := range f.ForwardHeaders {
		if v, ok := r.fwd.headers[h]; ok {
			sr.req.headers = append(sr.req.headers, [2]string{h, v})
			personal.WriteString("h\x00" + h + "\x00" + v + "\x00")
		}
	}
	for _, c := range f.ForwardCookies {
		if v, ok := r.fwd.cookies[c]; ok {
			sr.req.cookies = append(sr.req.cookies, [2]string{c, v})
			personal.WriteString("c\x00" + c + "\x00" + v + "\x00")
		}
	}
	sr.req.personal = personal.String()
	return sr
}

// lookup reads keys from the cache in one round trip. A failing cache
// counts as all misses: the page is then fetched directly.
func (r *pageRun) lookup(keys []string) []*Entry {
	c := r.c
	entries, err := c.cache.GetMulti(r.ctx, keys)
	if err != nil {
		c.m.redis.Inc()
		c.log.Debug("cache lookup failed", "err", err, "page", r.page.Path)
	}
	if len(entries) != len(keys) {
		entries = make([]*Entry, len(keys))
	}
	if c.nRecent.Load() > 0 {
		for i, e := range entries {
			if e == nil {
				entries[i] = c.recentEntry(keys[i])
			}
		}
	}
	return entries
}

func hasMarker(body []byte) bool { return bytes.Contains(body, slotOpen) }

// refusal is why a nested slot marker was not filled.
type refusal int

const (
	refusedDepth refusal = iota
	refusedCycle
	refusedUnknown
	refusedBadSlot
	refusedMarkers // over the markers one answer may place
	refusedSlots   // over the page's slots, all levels
	refusedBytes   // over the page's bytes
	nRefusals
)

var refusalNames = [nRefusals]string{"depth", "cycle", "unknown_fragment", "bad_slot", "markers_per_answer", "slots_per_page", "page_bytes"}

func (r refusal) String() string { return refusalNames[r] }

// budget is what is left of one page's limits for nested composition. It
// is shared by the page's goroutines, hence atomic; it lives and dies with
// the page.
type budget struct {
	slots   atomic.Int64
	bytes   atomic.Int64
	refused [nRefusals]atomic.Int64
}

func newBudget(l Limits, pageSlots int) *budget {
	b := &budget{}
	b.slots.Store(int64(l.SlotsPerPage - pageSlots))
	b.bytes.Store(int64(l.PageBytes))
	return b
}

func (b *budget) refuse(why refusal) { b.refused[why].Add(1) }

// takeSlot reserves one nested slot; it reports false when none is left.
func (b *budget) takeSlot() bool { return b.slots.Add(-1) >= 0 }

// takeBytes reserves n bytes of page markup; it reports false when they
// do not fit, and then reserves nothing.
func (b *budget) takeBytes(n int) bool {
	if b.bytes.Add(-int64(n)) >= 0 {
		return true
	}
	b.bytes.Add(int64(n))
	return false
}

// noteRefusals logs, once per page, how many nested markers were refused
// and why, and counts them.
func (r *pageRun) noteRefusals() {
	var attrs []any
	for why := range nRefusals {
		if n := r.budget.refused[why].Load(); n > 0 {
			r.c.m.refused[why].Add(int(n))
			attrs = append(attrs, why.String(), n)
		}
	}
	if attrs != nil {
		r.c.log.Warn("nested slots refused", append(attrs, "page", r.page.Path, "request_id", r.ids.requestID)...)
	}
}

// anonymousEmpty is the placeholder for a refused marker whose name is not
// a configured fragment: names from fragment markup are not echoed.
var anonymousEmpty = renderEmpty("")

// refusedPlaceholder is what a refused marker leaves on the page.
func (r *pageRun) refusedPlaceholder(name string) []byte {
	if r.site.Fragments[name] != nil {
		return emptySlot(name)
	}
	return anonymousEmpty
}

// nested resolves the fragment slots inside a fragment's body, in parallel,
// within the page's budget, and takes the bytes it writes from the page's
// byte budget. chain is the path of fragment names from the page down to
// body. A slot naming one of them is a cycle and is left empty, as is one
// past the depth limit, naming no known fragment, or over the page's slot
// budget; markers past the first MarkersPerAnswer of one answer are dropped.
// An answer whose own markup does not fit the page's bytes is left empty.
func (r *pageRun) nested(body []byte, chain []string) []byte {
	self := chain[len(chain)-1]
	if !hasMarker(body) {
		if !r.budget.takeBytes(len(body)) {
			return r.overBytes(self)
		}
		return body
	}
	parts, err := ParseLayout(body)
	if err != nil {
		r.budget.refuse(refusedBadSlot)
		parts = []Part{{Static: body}}
	}
	limits := r.site.Limits
	children := make([]slotRun, 0, min(len(parts)/2+1, limits.MarkersPerAnswer))
	which := make([]int, len(parts)) // child index, or -1 for static, -2 for refused, -3 for dropped
	markers, own := 0, 0
	for i, p := range parts {
		which[i] = -1
		if p.Marker == nil {
			own += len(p.Static)
			continue
		}
		markers++
		if markers > limits.MarkersPerAnswer {
			which[i] = -3
			r.budget.refuse(refusedMarkers)
			continue
		}
		s, why := r.admit(p.Marker, chain)
		if why >= 0 {
			which[i] = -2
			own += len(r.refusedPlaceholder(p.Marker.Name))
			r.budget.refuse(why)
			continue
		}
		which[i] = len(children)
		children = append(children, r.newSlotRun(s))
	}
	if !r.budget.takeBytes(own) {
		return r.overBytes(self)
	}
	r.resolveChildren(children, chain)
	var out bytes.Buffer
	out.Grow(own + len(children)*256)
	for i, p := range parts {
		switch w := which[i]; w {
		case -1:
			out.Write(p.Static)
		case -2:
			out.Write(r.refusedPlaceholder(p.Marker.Name))
		case -3:
		default:
			out.Write(children[w].body)
		}
	}
	return out.Bytes()
}

// overBytes is what a fragment's answer that does not fit the page's bytes
// leaves: its empty placeholder, or nothing once even that does not fit.
func (r *pageRun) overBytes(name string) []byte {
	r.budget.refuse(refusedBytes)
	if e := emptySlot(name); r.budget.takeBytes(len(e)) {
		return e
	}
	return nil
}

// admit decides whether a marker found in a fragment's answer is filled:
// it returns the bound slot, or why not.
func (r *pageRun) admit(m *Marker, chain []string) (*Slot, refusal) {
	switch {
	case len(chain) >= r.site.Limits.Depth:
		return nil, refusedDepth
	case containsString(chain, m.Name):
		return nil, refusedCycle
	case r.site.Fragments[m.Name] == nil:
		return nil, refusedUnknown
	}
	s, err := bindSlot(m, r.site.Fragments)
	if err != nil {
		return nil, refusedBadSlot
	}
	if !r.budget.takeSlot() {
		return nil, refusedSlots
	}
	return s, -1
}

// resolveChildren looks the nested slots up in one round trip, fetches the
// missing ones in parallel and expands what they hold in turn.
func (r *pageRun) resolveChildren(children []slotRun, chain []string) {
	if len(children) == 0 {
		return
	}
	keys := make([]string, len(children))
	for i := range children {
		keys[i] = children[i].key
	}
	entries := r.lookup(keys)
	now := time.Now()
	var wg sync.WaitGroup
	for i := range children {
		ch := &children[i]
		ready := r.classify(ch, entries[i], now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ready {
				r.resolve(ch)
			}
			ch.body = r.nested(ch.body, append(chain[:len(chain):len(chain)], ch.slot.Fragment.Name))
		}()
	}
	wg.Wait()
}
