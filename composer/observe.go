package composer

import "time"

// Observer is told how each page and each of its slots was served, after
// the page ends. Implementations must be safe for concurrent use and must
// not block: they run on the request's goroutine.
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
// span. Result is the cache result (hit, miss, stale, error) and Served how
// a degraded slot was filled (stale, fallback, empty; "" when not degraded).
type SlotEvent struct {
	Page, Fragment, RequestID string
	TraceID, SpanID, ParentID string
	Result, Served            string
	Start                     time.Time
	Dur                       time.Duration
	Err                       error
}
