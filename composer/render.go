package composer

import (
	"bytes"
	"context"
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

// RenderError writes a complete error page with status, in the site's
// chrome.
func RenderError(rc *fasthttp.RequestCtx, status int, title, msg, requestID string) {
	rc.Response.Reset()
	rc.SetStatusCode(status)
	rc.SetContentType("text/html; charset=utf-8")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	if requestID != "" {
		rc.Response.Header.Set("X-Request-Id", requestID)
	}
	_ = templates.ErrorPage(templates.ErrorData{Status: status, Title: title, Message: msg, RequestID: requestID}).Render(context.Background(), rc)
}
