package composer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

// assetProbe records, on the page's clock, when fragment a's markup first
// enters the DOM.
const assetProbe = `window.__aSeen=-1;new MutationObserver(function(){if(window.__aSeen<0&&document.querySelector('[data-fragment="a"]'))window.__aSeen=performance.now()}).observe(document,{childList:true,subtree:true});`

// TestAssetsInChromium: with a 100 ms fragment whose assets the composer
// knows from earlier answers, Chromium starts loading its stylesheet
// before the fragment's markup arrives, loads each asset once although the
// fragment is on the page twice, and applies it.
func TestAssetsInChromium(t *testing.T) {
	b := browsertest.New(t)
	e := newContractEnv(t, map[string]string{"a": "ttl: 0s", "b": "ttl: 0s", "c": "ttl: 0s"})
	e.a.SetDelay(100 * time.Millisecond)
	for range 2 { // the composer learns the assets, and that a is slow
		e.get("/")
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		onNewDocument(assetProbe),
		chromedp.Navigate(e.base+"/"),
	)
	if err != nil {
		t.Fatal(err)
	}
	var done string
	waitFor(t, ctx, `document.readyState=="complete"&&getComputedStyle(document.querySelector('[data-fragment="a"]')).color=="rgb(255, 0, 0)"?"done":""`, &done)
	type result struct {
		CSS      int     `json:"css"`
		JS       int     `json:"js"`
		CSSStart float64 `json:"cssStart"`
		ASeen    float64 `json:"aSeen"`
		Links    int     `json:"links"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(function(){
		var r=performance.getEntriesByType("resource");
		function of(p){return r.filter(function(e){return e.name.endsWith(p)})}
		var css=of("/_fragments/a`+aCSS+`");
		return {css: css.length, js: of("/_fragments/b`+bJS+`").length, cssStart: css.length?css[0].startTime:-1, aSeen: window.__aSeen,
			links: document.querySelectorAll('link[rel="stylesheet"][href="/_fragments/a`+aCSS+`"]').length};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stylesheet requested at %.1f ms, fragment a in the DOM at %.1f ms", got.CSSStart, got.ASeen)
	if got.CSS != 1 || got.JS != 1 || got.Links != 1 {
		t.Errorf("a's stylesheet loaded %d times (%d links), b's script %d times; want each once", got.CSS, got.Links, got.JS)
	}
	// a takes 100 ms: its stylesheet must be on its way well before.
	if got.CSSStart < 0 || got.ASeen < 0 || got.CSSStart > got.ASeen-40 {
		t.Errorf("stylesheet requested at %.1f ms, not well before a's markup arrived at %.1f ms", got.CSSStart, got.ASeen)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// TestSetCookieInChromium: the browser keeps the cookie of the primary
// allowed to set one, and never sees the others'.
func TestSetCookieInChromium(t *testing.T) {
	b := browsertest.New(t)
	e := newContractEnv(t, map[string]string{"a": "primary: true\nset_cookies: true", "b": "primary: true", "c": "set_cookies: true"})
	e.a.SetCookie("consent=yes; Path=/")
	e.b.SetCookie("tracker=1; Path=/")
	e.c.SetCookie("other=1; Path=/")
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if got != "consent=yes" {
		t.Errorf("document.cookie = %q, want only consent=yes", got)
	}
}

// TestCompressedPagesInChromium: Chromium decodes a page sent as zstd and
// as gzip, streamed and out of order, to the same document as the plain
// one.
func TestCompressedPagesInChromium(t *testing.T) {
	b := browsertest.New(t)
	e := newContractEnv(t, map[string]string{"a": "ttl: 0s", "b": "ttl: 0s"}, streamAlways)
	e.a.SetDelay(30 * time.Millisecond)
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	var encodings []string
	doc := func(ae string) string {
		t.Helper()
		err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Encoding": ae}})
			return err
		}))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(e.base+"/"))
		if err != nil {
			t.Fatal(err)
		}
		encodings = append(encodings, fmt.Sprint(resp.Headers["Content-Encoding"]))
		var out string
		// The document's main, without scripts: a module script follows its
		// slot when the slot came in document order, and goes to the end of
		// the body with the slot's patch when it came later.
		waitFor(t, ctx, `(function(){if(document.readyState!="complete"||document.querySelectorAll("main > [data-fragment]").length!=4)return "";`+
			`var m=document.querySelector("main").cloneNode(true);m.querySelectorAll("script").forEach(function(s){s.remove()});return m.outerHTML})()`, &out)
		return out
	}
	plain := doc("identity")
	for _, ae := range []string{"zstd", "gzip"} {
		if got := doc(ae); got != plain {
			t.Errorf("%s page decodes to\n%s\nwant\n%s", ae, got, plain)
		}
	}
	if fmt.Sprint(encodings) != "[<nil> zstd gzip]" {
		t.Errorf("documents came as %v, want plain, zstd, gzip", encodings)
	}
}
