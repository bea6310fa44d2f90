package composer

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// MaxNesting is how deep fragments may nest: a page slot's fragment is level
// one, a slot inside it level two, and so on.
const MaxNesting = 3

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

// nested resolves the fragment slots inside a fragment's body, in parallel,
// up to MaxNesting levels. chain is the path of fragment names from the
// page down to body; a slot naming one of them is a cycle and is left
// empty, as is one past the depth limit or naming no known fragment.
func (r *pageRun) nested(body []byte, chain []string) []byte {
	if !hasMarker(body) {
		return body
	}
	parts, err := ParseLayout(body)
	if err != nil {
		r.c.log.Warn("fragment holds a bad slot marker; left as is", "fragment", chain[len(chain)-1], "err", err)
		return body
	}
	children := make([]slotRun, 0, len(parts)/2+1)
	which := make([]int, len(parts)) // child index, or -1 for static, -2 for refused
	for i, p := range parts {
		which[i] = -1
		if p.Marker == nil {
			continue
		}
		which[i] = -2
		reason := ""
		switch {
		case len(chain) >= MaxNesting:
			reason = "nesting deeper than the limit"
		case containsString(chain, p.Marker.Name):
			reason = "cycle"
		case r.site.Fragments[p.Marker.Name] == nil:
			reason = "unknown fragment"
		}
		var s *Slot
		if reason == "" {
			if s, err = bindSlot(p.Marker, r.site.Fragments); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			r.c.log.Warn("nested slot refused", "fragment", chain[len(chain)-1], "slot", p.Marker.Name, "reason", reason, "request_id", r.ids.requestID)
			continue
		}
		which[i] = len(children)
		children = append(children, r.newSlotRun(s))
	}
	if len(children) > 0 {
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
	var out bytes.Buffer
	out.Grow(len(body) * 2)
	for i, p := range parts {
		switch w := which[i]; {
		case w == -1:
			out.Write(p.Static)
		case w == -2:
			out.Write(renderEmpty(p.Marker.Name))
		default:
			out.Write(children[w].body)
		}
	}
	return out.Bytes()
}
