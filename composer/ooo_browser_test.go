package composer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

// oooLayout puts a slow fragment (a, 200px high, its place reserved)
// ahead of a fast one (b) and a focused input ahead of both.
const oooLayout = `<!doctype html><html><head><meta charset="utf-8"><title>ooo</title><link rel="icon" href="data:,"></head>
<body style="margin:0"><input id="q"><main><!--@slot:a reserve=200px--><!--@slot:b--><!--@slot:c--></main><footer id="foot">FOOT</footer></body></html>`

// oooProbe records, from the first byte of the document, the order the
// fragments enter the DOM and the layout shift the page undergoes.
const oooProbe = `window.__seen=[];window.__cls=0;
new PerformanceObserver(function(l){l.getEntries().forEach(function(e){if(!e.hadRecentInput)window.__cls+=e.value})}).observe({type:"layout-shift",buffered:true});
new MutationObserver(function(){["a","b","c"].forEach(function(n){if(window.__seen.indexOf(n)<0&&document.querySelector('[data-fragment="'+n+'"]'))window.__seen.push(n)})}).observe(document,{childList:true,subtree:true});`

func TestOutOfOrderInChromium(t *testing.T) {
	t.Run("native", func(t *testing.T) { testOutOfOrderInBrowser(t, browsertest.New(t)) })
	t.Run("fallback script", func(t *testing.T) {
		// Without these Chromium parses <?start> as a comment and leaves
		// <template for> alone, as browsers without the feature do.
		b := browsertest.NewWithFlags(t, map[string]any{"disable-blink-features": "DocumentPatching,HTMLProcessingInstruction"})
		testOutOfOrderInBrowser(t, b)
	})
}

func testOutOfOrderInBrowser(t *testing.T, b *browsertest.Browser) {
	e := newEnvLayout(t, oooLayout, map[string]string{"a": "timeout: 20s\nttl: 0s", "b": "ttl: 0s", "c": "ttl: 0s"}, streamAlways)
	e.a.SetBody(`<section data-fragment="a" style="height:200px">A1</section>`)
	e.b.SetBody(`<section data-fragment="b" style="height:50px">B1</section>`)
	e.b.SetDelay(10 * time.Millisecond)
	e.a.Hold() // the slow fragment: answers once the fast one is on screen
	released := false
	defer func() {
		if !released {
			e.a.Release()
		}
	}()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		onNewDocument(oooProbe),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.Navigate, page.NavigateParams{URL: e.base + "/"}) // its load event waits for a
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The fast fragment is laid out while the slow one is still held.
	var state string
	waitFor(t, ctx, `(function(){var b=document.querySelector('[data-fragment="b"]');`+
		`if(!b||!document.getElementById("foot"))return "";document.getElementById("q").focus();`+
		`return (document.querySelector('[data-fragment="a"]')?"a ":"")+b.getBoundingClientRect().height+" "+`+
		`document.querySelector('[data-fragment-pending="a"]').getAttribute("aria-busy")+" "+document.querySelector('[data-fragment-pending="a"]').getBoundingClientRect().height})()`, &state)
	if state != "50 true 200" {
		t.Fatalf("with a held, got %q, want b laid out (50px), a's place busy and 200px high", state)
	}
	e.a.Release()
	released = true
	var done string
	waitFor(t, ctx, `document.readyState=="complete"&&document.querySelector('[data-fragment="a"]')?"done":""`, &done)
	type result struct {
		Order     string  `json:"order"`
		Seen      string  `json:"seen"`
		Templates int     `json:"templates"`
		Pending   int     `json:"pending"`
		Markers   int     `json:"markers"`
		CLS       float64 `json:"cls"`
		Focus     string  `json:"focus"`
	}
	final, err := chromedp.Run(ctx, chromedp.Evaluate[result](`({
		order: [...document.querySelectorAll("main > [data-fragment]")].map(function(n){return n.dataset.fragment}).join(","),
		seen: window.__seen.join(","),
		templates: document.querySelectorAll("template").length,
		pending: document.querySelectorAll("[data-fragment-pending]").length,
		markers: (function(){var w=document.createTreeWalker(document.body,192),n=0;while(w.nextNode())n++;return n})(),
		cls: window.__cls,
		focus: document.activeElement ? document.activeElement.id : ""
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if final.Order != "a,b,c" || final.Templates != 0 || final.Pending != 0 || final.Markers != 0 {
		t.Fatalf("final DOM: %+v, want a,b,c in place with no template, placeholder or marker left", final)
	}
	if final.Seen[len(final.Seen)-1] != 'a' {
		t.Fatalf("fragments arrived as %s, want a last", final.Seen)
	}
	if final.CLS > 0.01 {
		t.Fatalf("cumulative layout shift %.3f, want none beyond the reserved place", final.CLS)
	}
	if final.Focus != "q" {
		t.Fatalf("focus moved to %q", final.Focus)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}

// onNewDocument runs script in every document the tab loads from then on,
// before the document's own.
func onNewDocument(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	})
}

// waitFor evaluates expr until it yields a non-empty string, into out.
func waitFor(t *testing.T, ctx context.Context, expr string, out *string) {
	t.Helper()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		*out = v
		if *out != "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(fmt.Errorf("waiting for %s: %w", expr, ctx.Err()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}
