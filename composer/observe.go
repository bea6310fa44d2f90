package composer

import (
	"strconv"
	"time"
)

// Observer is told how each page and each of its slots, nested ones
// included, was served, after the page ends. Implementations must be safe
// for concurrent use and must not block.
type Observer interface {
	ObservePage(PageEvent)
	ObserveSlot(SlotEvent)
}

// PageEvent describes one composed page. Ids are W3C trace-context hex:
// the page is span SpanID of trace TraceID, a child of ParentID (empty when
// the trace started at the composer).
type PageEvent struct {
	Page, RequestID           string
	TraceID, SpanID, ParentID string
	Status                    int
	Start                     time.Time
	Dur                       time.Duration
}

// SlotEvent describes how one slot of a page was served. SpanID is the span
// whose id was sent to the fragment in traceparent; ParentID is the page's
// span, or the enclosing slot's for a nested one. Slot names the slot by
// its path of fragments ("topbar.weather"). Result is the cache result
// (hit, miss, stale, error) and Served how a degraded slot was filled
// (stale, fallback, empty; "" when not degraded).
type SlotEvent struct {
	Page, Fragment, Slot, RequestID string
	TraceID, SpanID, ParentID       string
	Result, Served                  string
	Start                           time.Time
	Dur                             time.Duration
	Err                             error
}

// cacheResult is a slot's cache result, as counted in
// tessera_cache_results_total.
type cacheResult uint8

const (
	resultNone cacheResult = iota
	resultHit
	resultMiss
	resultStale
	resultError
)

func (r cacheResult) String() string {
	return [...]string{"", "hit", "miss", "stale", "error"}[r]
}

// servedAs is how a degraded slot was filled.
type servedAs uint8

const (
	servedFresh servedAs = iota // not degraded
	servedStale
	servedFallback
	servedEmpty
)

func (s servedAs) String() string {
	return [...]string{"", "stale", "fallback", "empty"}[s]
}

// finish is step 5: it ends the page — stops outstanding waits, waits for
// its goroutines — and records what happened: metrics, refusals, events.
func (r *pageRun) finish(status int) {
	r.cancel()
	r.wg.Wait()
	r.c.m.page(r.pl.page.Path).Update(r.c.clock.Now().Sub(r.start).Seconds())
	r.noteRefusals()
	r.report(status)
}

// each calls fn for every slot of the page, its own in document order,
// then the nested ones.
func (r *pageRun) each(fn func(*slotRun)) {
	for _, sr := range r.top {
		fn(sr)
	}
	r.mu.Lock()
	nested := r.nested
	r.mu.Unlock()
	for _, sr := range nested {
		fn(sr)
	}
}

// report tells the observer, if any, how the page and each slot went.
func (r *pageRun) report(status int) {
	obs := r.c.observer
	if obs == nil {
		return
	}
	ids := r.pl.req.ids
	r.each(func(sr *slotRun) {
		start := sr.res.start
		if start.IsZero() {
			start = r.start
		}
		obs.ObserveSlot(SlotEvent{
			Page: r.pl.page.Path, Fragment: sr.ps.slot.Fragment.Name, Slot: sr.ps.name(), RequestID: ids.requestID,
			TraceID: ids.traceID, SpanID: sr.ps.spanID, ParentID: sr.ps.parentSpan,
			Result: sr.res.result.String(), Served: sr.res.served.String(), Start: start, Dur: sr.res.dur, Err: sr.res.err,
		})
	})
	obs.ObservePage(PageEvent{
		Page: r.pl.page.Path, RequestID: ids.requestID, TraceID: ids.traceID, SpanID: ids.spanID,
		ParentID: ids.parentID, Status: status, Start: r.start, Dur: r.c.clock.Now().Sub(r.start),
	})
}

// noteRefusals logs, once per page, how many nested markers were refused
// and why, and counts them.
func (r *pageRun) noteRefusals() {
	var attrs []any
	for why := range nRefusals {
		if n := r.pl.budget.refused[why].Load(); n > 0 {
			r.c.m.refused[why].Add(int(n))
			attrs = append(attrs, why.String(), n)
		}
	}
	if attrs != nil {
		r.c.log.Warn("nested slots refused", append(attrs, "page", r.pl.page.Path, "request_id", r.pl.req.ids.requestID)...)
	}
}

// appendTimings appends the page's Server-Timing value, or with
// cacheStatus its Cache-Status value: one entry per slot, nested ones
// included.
func (r *pageRun) appendTimings(b []byte, cacheStatus bool) []byte {
	first := true
	r.each(func(sr *slotRun) {
		if !first {
			b = append(b, ", "...)
		}
		first = false
		if cacheStatus {
			b = appendCacheStatus(b, sr)
		} else {
			b = appendServerTiming(b, sr)
		}
	})
	return b
}

// appendServerTiming appends one Server-Timing entry for a slot:
// name;dur=12.3;desc="hit".
func appendServerTiming(b []byte, sr *slotRun) []byte {
	b = appendSlotName(b, sr.ps)
	b = append(b, ";dur="...)
	b = strconv.AppendFloat(b, float64(sr.res.dur.Microseconds())/1000, 'f', 1, 64)
	b = append(b, `;desc="`...)
	b = append(b, sr.res.result.String()...)
	if s := sr.res.served; s == servedFallback || s == servedEmpty {
		b = append(b, '/')
		b = append(b, s.String()...)
	}
	return append(b, '"')
}

func appendSlotName(b []byte, ps *plannedSlot) []byte {
	for i, n := range ps.chain {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, n...)
	}
	return b
}

// appendCacheStatus appends an RFC 9211 Cache-Status member for a slot.
func appendCacheStatus(b []byte, sr *slotRun) []byte {
	b = append(b, "tessera-"...)
	b = appendSlotName(b, sr.ps)
	switch sr.res.result {
	case resultHit:
		b = append(b, "; hit"...)
	case resultStale:
		b = append(b, "; hit; detail=stale"...)
	case resultMiss:
		b = append(b, "; fwd=miss; stored"...)
	default:
		b = append(b, "; fwd=miss; detail="...)
		b = append(b, sr.res.served.String()...)
	}
	return b
}

// debugComment is an HTML comment listing each slot's outcome and time,
// appended to pages when debug is on.
func (r *pageRun) debugComment() []byte {
	b := []byte("\n<!-- tessera request_id=")
	b = append(b, r.pl.req.ids.requestID...)
	r.each(func(sr *slotRun) {
		b = append(b, ' ')
		b = appendServerTiming(b, sr)
	})
	return append(b, " -->\n"...)
}
