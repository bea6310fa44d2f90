package composer

import (
	"bytes"
	"context"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/templates"
)

var emptySlots sync.Map // fragment name -> []byte

// renderEmpty renders the empty placeholder for a name, uncached: for
// names that come from fragment markup rather than the config.
func renderEmpty(name string) []byte {
	var buf bytes.Buffer
	_ = emptyPlaceholder(name).Render(context.Background(), &buf)
	return buf.Bytes()
}

// emptySlot returns the rendered empty placeholder for a configured
// fragment (cached: the set of names is bounded by the config).
func emptySlot(name string) []byte {
	if b, ok := emptySlots.Load(name); ok {
		return b.([]byte)
	}
	var buf bytes.Buffer
	_ = emptyPlaceholder(name).Render(context.Background(), &buf)
	b, _ := emptySlots.LoadOrStore(name, buf.Bytes())
	return b.([]byte)
}

// renderError writes a complete error page with status.
func renderError(rc *fasthttp.RequestCtx, status int, title, msg, requestID string) {
	rc.Response.Reset()
	rc.SetStatusCode(status)
	rc.SetContentType("text/html; charset=utf-8")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	if requestID != "" {
		rc.Response.Header.Set("X-Request-Id", requestID)
	}
	_ = templates.ErrorPage(templates.ErrorData{Status: status, Title: title, Message: msg, RequestID: requestID}).Render(context.Background(), rc)
}

// appendServerTiming appends one Server-Timing entry for a slot:
// name;dur=12.3;desc="hit".
func appendServerTiming(b []byte, sr *slotRun) []byte {
	b = append(b, sr.slot.Fragment.Name...)
	b = append(b, ";dur="...)
	b = strconv.AppendFloat(b, float64(sr.dur.Microseconds())/1000, 'f', 1, 64)
	b = append(b, `;desc="`...)
	b = append(b, sr.outcome()...)
	return append(b, '"')
}

// appendCacheStatus appends an RFC 9211 Cache-Status member for a slot.
func appendCacheStatus(b []byte, sr *slotRun) []byte {
	b = append(b, "tessera-"...)
	b = append(b, sr.slot.Fragment.Name...)
	switch sr.result {
	case resultHit:
		b = append(b, "; hit"...)
	case resultStale:
		b = append(b, "; hit; detail=stale"...)
	case resultMiss:
		b = append(b, "; fwd=miss; stored"...)
	default:
		b = append(b, "; fwd=miss; detail="...)
		b = append(b, sr.served...)
	}
	return b
}

// outcome is the slot's cache result plus how it was served when degraded.
func (s *slotRun) outcome() string {
	if s.served != "" && s.served != "stale" {
		return s.result + "/" + s.served
	}
	return s.result
}

// debugComment is an HTML comment listing each slot's outcome and time,
// appended to pages when debug is on.
func (r *pageRun) debugComment() []byte {
	b := []byte("\n<!-- tessera request_id=")
	b = append(b, r.ids.requestID...)
	for i := range r.slots {
		b = append(b, ' ')
		b = appendServerTiming(b, &r.slots[i])
	}
	return append(b, " -->\n"...)
}
