package composer

import (
	"bufio"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// wholePage is the stream decision: a page is sent whole (one write,
// Content-Length, Server-Timing) unless it is told to stream, or a slot
// still to be fetched typically answers slower than streamAbove, when the
// head and the slots before it should not wait for it. typical holds the
// typical answer time of each slot still to be fetched.
func wholePage(mode streamMode, typical []time.Duration, streamAbove time.Duration) bool {
	switch mode {
	case streamAlways:
		return false
	case streamNever:
		return true
	}
	for _, d := range typical {
		if d >= streamAbove {
			return false
		}
	}
	return true
}

// delivery decides how the page goes out, from the slots still pending.
func (r *pageRun) delivery(pending []*slotRun) bool {
	var typical []time.Duration
	for _, sr := range pending {
		if !sr.ready {
			typical = append(typical, r.rt.fragment(sr.ps.slot.Fragment.Name).m.typical())
		}
	}
	return wholePage(r.pl.page.stream, typical, r.c.streamAbove)
}

// stitch is step 4: it writes the page, whole or streamed in document
// order, after the page's primary slots are in (a primary that could not be
// served makes the page an error page). Observing (step 5) happens when the
// page ends.
func (r *pageRun) stitch(rc *fasthttp.RequestCtx, whole bool) {
	rc.Response.Header.SetContentType("text/html; charset=utf-8")
	rc.Response.Header.Set("X-Request-Id", r.pl.req.ids.requestID)
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	for _, sr := range r.top {
		if !sr.ps.slot.Primary {
			continue
		}
		if sr.done != nil {
			<-sr.done
		}
		if sr.res.served == servedFallback || sr.res.served == servedEmpty {
			r.failPrimary(rc, sr)
			return
		}
	}
	if !whole {
		rc.SetBodyStreamWriter(r.stream)
		return
	}
	for _, sr := range r.top {
		if sr.done != nil {
			<-sr.done
		}
	}
	r.writeWhole(rc)
}

// writeWhole writes a page whose slots are all ready, with Content-Length,
// Server-Timing and Cache-Status.
func (r *pageRun) writeWhole(rc *fasthttp.RequestCtx) {
	defer r.finish(fasthttp.StatusOK)
	r.wg.Wait() // nested slots report too
	st, cs := r.timingHeaders()
	rc.Response.Header.SetBytesV("Server-Timing", st)
	rc.Response.Header.SetBytesV("Cache-Status", cs)
	for _, part := range r.pl.page.parts {
		if part.slot == nil {
			_, _ = rc.Write(part.static)
			continue
		}
		_, _ = rc.Write(r.top[part.slot.index].res.body)
	}
	if r.rt.site.Debug {
		_, _ = rc.Write(r.debugComment())
	}
}

// stream writes the page as its slots become ready, in document order.
// fasthttp runs it on a goroutine of its own after the handler returned: it
// must not touch the RequestCtx, and a panic in it ends only this page.
func (r *pageRun) stream(w *bufio.Writer) {
	defer r.c.recoverPanic("stream", r.pl.page, nil)
	defer r.finish(fasthttp.StatusOK)
	for _, part := range r.pl.page.parts {
		if part.slot == nil {
			if _, err := w.Write(part.static); err != nil {
				return
			}
			continue
		}
		sr := r.top[part.slot.index]
		if sr.done != nil {
			select {
			case <-sr.done:
			default:
				if w.Buffered() > 0 {
					if err := w.Flush(); err != nil {
						return // the client went away
					}
				}
				if !r.await(w, sr.done) {
					return
				}
			}
		}
		if _, err := w.Write(sr.res.body); err != nil {
			return
		}
	}
	if r.rt.site.Debug {
		_, _ = w.Write(r.debugComment())
	}
}

// heartbeat is how often a streamed page that is waiting for a slot
// checks that its client is still there.
const heartbeat = 250 * time.Millisecond

// await waits for done while the client listens. A connection is only
// known to be gone when a write to it fails, so while it waits it writes a
// newline (harmless between elements) now and then; it reports false when
// the client went away, which ends the page and its fetches.
func (r *pageRun) await(w *bufio.Writer, done <-chan struct{}) bool {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-done:
			return true
		case <-t.C:
			if err := w.WriteByte('\n'); err != nil {
				return false
			}
			if err := w.Flush(); err != nil {
				return false
			}
		}
	}
}

// failPrimary answers with an error page: a primary fragment could not be
// served at all. The page's other slots finish in the background.
func (r *pageRun) failPrimary(rc *fasthttp.RequestCtx, sr *slotRun) {
	r.cancel()
	status := fasthttp.StatusBadGateway
	if errors.Is(sr.res.err, ErrFragmentTimeout) {
		status = fasthttp.StatusGatewayTimeout
	}
	r.c.goSafe("page end", func() { r.finish(status) }, nil)
	r.c.log.Warn("primary fragment unavailable", "page", r.pl.page.Path, "fragment", sr.ps.name(), "err", sr.res.err, "request_id", r.pl.req.ids.requestID)
	renderError(rc, status, "This page is temporarily unavailable",
		"Part of this page could not be loaded. Please try again in a moment.", r.pl.req.ids.requestID)
}
