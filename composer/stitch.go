package composer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/composer/zparts"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// wholePage is the stream decision: a page is sent whole (one write,
// Content-Length, Server-Timing) unless it is told to stream, or a slot
// still to be fetched typically answers slower than streamAbove, when the
// head and the slots before it should not wait for it. typical holds the
// typical answer time of each slot still to be fetched.
func wholePage(mode config.StreamMode, typical []time.Duration, streamAbove time.Duration) bool {
	switch mode {
	case config.StreamAlways:
		return false
	case config.StreamNever:
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
	return wholePage(r.pl.page.Stream(), typical, r.c.streamAbove)
}

// stitch is step 4: it writes the page, whole or streamed, after the
// page's primary slots are in (a primary that could not be served makes
// the page an error page). A streamed page sends its slots in arrival
// order where the page and slot allow it, unless the client is a crawler.
// Observing (step 5) happens when the page ends.
func (r *pageRun) stitch(rc *fasthttp.RequestCtx, whole bool) {
	rc.Response.Header.SetContentType("text/html; charset=utf-8")
	rc.Response.Header.Set("X-Request-Id", r.pl.req.ids.requestID)
	if !r.awaitPrimaries(rc) {
		return
	}
	r.setCaching(rc, r.setCookies(rc))
	r.setPolicy(rc)
	rc.SetStatusCode(r.status)
	enc := zparts.Negotiate(rc.Request.Header.Peek(fasthttp.HeaderAcceptEncoding))
	if enc != zparts.Identity {
		rc.Response.Header.Set(fasthttp.HeaderContentEncoding, enc.String())
	}
	if !whole {
		arrival := !r.rt.site.IsCrawler(rc.UserAgent())
		rc.SetBodyStreamWriter(func(w *bufio.Writer) { r.stream(w, enc, arrival) })
		return
	}
	for _, sr := range r.top {
		if sr.done != nil {
			<-sr.done
		}
	}
	r.writeWhole(rc, enc)
}

// awaitPrimaries waits for the page's primary slots, which decide its
// status: a primary that could not be served makes the page an error
// page, and one that redirects makes it that redirect (both answered
// here, reported false). A primary's 404 or 410 becomes the page's.
func (r *pageRun) awaitPrimaries(rc *fasthttp.RequestCtx) bool {
	r.status = fasthttp.StatusOK
	for _, sr := range r.top {
		if !sr.ps.slot.Primary {
			continue
		}
		if sr.done != nil {
			<-sr.done
		}
		switch m := sr.res.meta; {
		case sr.res.served == servedFallback || sr.res.served == servedEmpty:
			r.failPrimary(rc, sr)
			return false
		case m != nil && m.Location != "":
			r.redirect(rc, sr)
			return false
		case m != nil && m.Status != 0 && r.status == fasthttp.StatusOK:
			r.status = m.Status
		}
	}
	return true
}

// setCookies passes on the cookies the page's primaries set (only those
// of fragments allowed to); it reports whether there were any.
func (r *pageRun) setCookies(rc *fasthttp.RequestCtx) bool {
	var set [][]byte
	for _, sr := range r.top {
		if !isDone(sr) { // only primaries have cookies, all in by now
			continue
		}
		for _, c := range sr.res.cookies {
			if !slices.ContainsFunc(set, func(s []byte) bool { return bytes.Equal(s, c) }) {
				rc.Response.Header.AddBytesV(fasthttp.HeaderSetCookie, c)
				set = append(set, c)
			}
		}
	}
	return len(set) > 0
}

// redirect answers the page with its primary's redirect; the page's other
// slots finish in the background.
func (r *pageRun) redirect(rc *fasthttp.RequestCtx, sr *slotRun) {
	r.cancel()
	status := sr.res.meta.Status
	r.c.goSafe("page end", func() { r.finish(status) }, nil)
	r.setCaching(rc, r.setCookies(rc))
	rc.Response.Header.Set(fasthttp.HeaderLocation, sr.res.meta.Location)
	rc.SetStatusCode(status)
	rc.Response.Header.SetContentType("text/plain; charset=utf-8")
	rc.SetBodyString("Moved to " + sr.res.meta.Location + "\n")
}

// writeWhole writes a page whose slots are all ready, with Content-Length,
// Server-Timing and Cache-Status.
func (r *pageRun) writeWhole(rc *fasthttp.RequestCtx, enc zparts.Encoding) {
	defer r.finish(r.status)
	r.wg.Wait()       // nested slots report too
	var buf [512]byte // both values are copied into the header
	rc.Response.Header.SetBytesV("Server-Timing", r.appendTimings(buf[:0], false))
	rc.Response.Header.SetBytesV("Cache-Status", r.appendTimings(buf[:0], true))
	out := acquireOut(rc, nil, enc)
	defer out.release()
	for i, part := range r.pl.page.parts {
		switch {
		case i == 0 && part.slot == nil:
			r.writeHead(out, part)
		case part.slot == nil:
			out.static(part.static, part.block)
		default:
			r.writeSlot(out, r.top[part.slot.Index()])
		}
	}
	if r.rt.site.Debug {
		out.raw(r.debugComment())
	}
	out.close()
}

// stream writes the page as its slots become ready: each slot in document
// order, or, when arrival is set and the slot goes by arrival, its place
// at once and its markup patched in before </body> when it arrives.
// fasthttp runs it on a goroutine of its own after the handler returned:
// it must not touch the RequestCtx, and a panic in it ends only this page.
func (r *pageRun) stream(w *bufio.Writer, enc zparts.Encoding, arrival bool) {
	defer r.c.recoverPanic("stream", r.pl.page, nil)
	defer r.finish(r.status)
	out := acquireOut(w, w, enc)
	defer out.release()
	page := r.pl.page
	var late []*slotRun
	for i, part := range page.parts {
		if part.slot == nil {
			if i == len(page.parts)-1 && len(late) > 0 {
				out.static(part.static[:page.tailCut], page.tail[0])
				if !r.patch(out, late) {
					return
				}
				late = nil
				out.static(part.static[page.tailCut:], page.tail[1])
				continue
			}
			if i == 0 {
				r.writeHead(out, part)
				continue
			}
			out.static(part.static, part.block)
			continue
		}
		sr := r.top[part.slot.Index()]
		if !isDone(sr) {
			if arrival && page.ByArrival(part.slot) {
				out.piece(appendPlaceholder(out.scratch(), part.slot.Index(), part.slot))
				late = append(late, sr)
				continue
			}
			if !out.flush() || !r.await(out, sr.done) {
				return // the client went away
			}
		}
		r.writeSlot(out, sr)
		if out.err != nil {
			return
		}
	}
	if len(late) > 0 && !r.patch(out, late) {
		return
	}
	if r.rt.site.Debug {
		out.raw(r.debugComment())
	}
	out.close()
}

// patch sends the markup of the slots whose places went out first, in the
// order they arrive (those in together in document order), flushing after
// each batch. It reports false when the client went away.
func (r *pageRun) patch(out *pageOut, late []*slotRun) bool {
	out.piece(appendPatchScript(out.scratch(), r.nonce))
	for len(late) > 0 {
		n := 0
		for _, sr := range late {
			if !isDone(sr) {
				late[n] = sr
				n++
				continue
			}
			out.raw(r.assetTags(out.scratch(), sr, protocol.Stylesheet))
			out.piece(appendPatchOpen(out.scratch(), sr.ps.slot.Index()))
			out.slot(&sr.res)
			out.piece(appendPatchClose(out.scratch(), r.nonce))
			out.raw(r.assetTags(out.scratch(), sr, protocol.Script))
		}
		late = late[:n]
		if !out.flush() {
			return false
		}
		if len(late) > 0 && nextArrival(late, out.beat) < 0 {
			return false
		}
	}
	return true
}

// heartbeat is how often a streamed page that is waiting for a slot
// checks that its client is still there.
const heartbeat = 250 * time.Millisecond

// await waits for done while the client listens. A connection is only
// known to be gone when a write to it fails, so while it waits it writes a
// newline (harmless between elements) now and then; it reports false when
// the client went away, which ends the page and its fetches.
func (r *pageRun) await(out *pageOut, done <-chan struct{}) bool {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-done:
			return true
		case <-t.C:
			if !out.beat() {
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
	if errors.Is(sr.res.err, upstream.ErrFragmentTimeout) {
		status = fasthttp.StatusGatewayTimeout
	}
	r.c.goSafe("page end", func() { r.finish(status) }, nil)
	r.c.log.Warn("primary fragment unavailable", "page", r.pl.page.Path, "fragment", sr.ps.name(), "err", sr.res.err, "request_id", r.pl.req.ids.requestID)
	RenderError(rc, status, "This page is temporarily unavailable",
		"Part of this page could not be loaded. Please try again in a moment.", r.pl.req.ids.requestID)
}

// pageOut writes one page through a zparts.Writer: static parts and cached
// fragments from their precompressed blocks where they have one, the rest
// compressed as it goes (or as is, uncompressed). Write errors are sticky.
type pageOut struct {
	zw  *zparts.Writer
	bw  *bufio.Writer // flushed after zw on a streamed page; nil when whole
	err error
	buf []byte
}

var outPool = sync.Pool{New: func() any { return new(pageOut) }}

func acquireOut(dst io.Writer, bw *bufio.Writer, enc zparts.Encoding) *pageOut {
	o := outPool.Get().(*pageOut)
	o.zw, o.bw, o.err = zparts.AcquireWriter(dst, enc), bw, nil
	return o
}

func (o *pageOut) release() {
	zparts.ReleaseWriter(o.zw)
	o.zw, o.bw = nil, nil
	if cap(o.buf) > 4<<10 {
		o.buf = nil
	}
	outPool.Put(o)
}

// scratch returns a buffer for one small piece, valid until the next call.
func (o *pageOut) scratch() []byte { return o.buf[:0] }

func (o *pageOut) raw(p []byte) {
	if o.err == nil {
		_, o.err = o.zw.Write(p)
	}
}

// piece writes p, which was built on scratch, and keeps its buffer.
func (o *pageOut) piece(p []byte) {
	o.raw(p)
	if cap(p) > cap(o.buf) && cap(p) <= 4<<10 {
		o.buf = p[:0]
	}
}

// static writes a part from its block b when b has the form the page is
// written in, else p as it is.
func (o *pageOut) static(p []byte, b *zparts.Block) {
	if o.err != nil || len(p) == 0 {
		return
	}
	if b != nil && b.Has(o.zw.Encoding()) {
		o.err = o.zw.WriteBlock(b)
		return
	}
	_, o.err = o.zw.Write(p)
}

func (o *pageOut) slot(res *slotResult) { o.static(res.body, res.block) }

// flush sends everything so far to the client; it reports false once a
// write failed.
func (o *pageOut) flush() bool {
	if o.err == nil {
		o.err = o.zw.Sync() // flushes bw too
	}
	return o.err == nil
}

// beat writes a newline and flushes: a waiting page's check that its
// client is still there.
func (o *pageOut) beat() bool {
	o.raw([]byte{'\n'})
	return o.flush()
}

// close ends the page (a compressed one with its trailer).
func (o *pageOut) close() {
	if o.err == nil {
		o.err = o.zw.Close()
	}
	if o.err == nil && o.bw != nil {
		o.err = o.bw.Flush()
	}
}

// compressParts compresses a page's static parts once, when its config is
// loaded; the last one also in two, around where an out-of-order page's
// patches go.
func (p *page) compressParts() {
	p.cutHead()
	last := -1
	for i := range p.parts {
		if p.parts[i].slot == nil {
			p.parts[i].block = zparts.NewBlock(p.parts[i].static)
			last = i
		}
	}
	if last == len(p.parts)-1 {
		st := p.parts[last].static
		p.tailCut = bodyClose(st)
		p.tail = [2]*zparts.Block{zparts.NewBlock(st[:p.tailCut]), zparts.NewBlock(st[p.tailCut:])}
	}
}
