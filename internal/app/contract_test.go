package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

// TestStoryPagesAnswerForTheirStory: the built-in site, real processes. A
// story page has its headline as title and its standfirst as description;
// an unknown story is a 404 in the site's chrome; a moved story redirects
// to its new path, which answers 200; every fragment's stylesheet is
// served by the composer, immutable.
func TestStoryPagesAnswerForTheirStory(t *testing.T) {
	site := testSite(t, nil)
	base := "http://" + site.Composer.DisplayAddr()

	resp, doc := getDoc(t, base+"/news/lynx-return-kielder-forest")
	if resp.StatusCode != 200 {
		t.Fatalf("story: %d", resp.StatusCode)
	}
	if got := doc.Find("head title").Text(); got != "Lynx reintroduction plan for Kielder Forest clears first public vote · Tessera+" {
		t.Errorf("title %q", got)
	}
	if got := doc.Find(`head meta[name="description"]`).AttrOr("content", ""); !strings.HasPrefix(got, "Farmers won guarantees on compensation") {
		t.Errorf("description %q", got)
	}
	if got := doc.Find(`head link[rel="canonical"]`).AttrOr("href", ""); got != "/news/lynx-return-kielder-forest" {
		t.Errorf("canonical %q", got)
	}

	resp, doc = getDoc(t, base+"/news/no-such-story")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown story: %d, want 404", resp.StatusCode)
	}
	if !strings.Contains(doc.Find(`[data-view="article"]`).Text(), "Story not found") ||
		doc.Find(`[data-testid="site-header"]`).Length() != 1 || doc.Find(`[data-testid="site-footer"]`).Length() != 1 {
		t.Error("the 404 lacks the chrome or the fragment's own markup")
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/news/lisbon-madrid-sleeper-train")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/news/night-train-lisbon-madrid-returns" {
		t.Fatalf("moved story: %d to %q, want 301 to /news/night-train-lisbon-madrid-returns", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := getDoc(t, base+resp.Header.Get("Location")); resp.StatusCode != 200 {
		t.Errorf("the moved story's new path: %d", resp.StatusCode)
	}

	_, doc = getDoc(t, base+"/")
	links := doc.Find(`link[rel="stylesheet"][href^="/_fragments/"]`)
	if links.Length() != 4 {
		t.Errorf("home links %d fragment stylesheets, want one per fragment (4)", links.Length())
	}
	links.Each(func(_ int, l *goquery.Selection) {
		href := l.AttrOr("href", "")
		resp, err := http.Get(base + href)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(body) == 0 {
			t.Errorf("%s: %d %q %q, %d bytes", href, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), len(body))
		}
	})
}

// TestEachStylesheetLoadsOncePerPage: in Chromium, every page of the site
// loads each fragment's stylesheet exactly once (the home page holds
// headlines twice, the top bar's ticker and the hero), from the first
// visit on, and a story page shows its headline as the tab's title.
func TestEachStylesheetLoadsOncePerPage(t *testing.T) {
	site := testSite(t, nil)
	base := "http://" + site.Composer.DisplayAddr()
	b := browsertest.New(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	for _, path := range []string{"/", "/shows", "/weather?city=oslo", "/news/lynx-return-kielder-forest"} {
		noCache := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
			return err
		})
		if err := chromedp.Do(ctx, noCache, chromedp.Navigate(base+path), chromedp.WaitReady("footer")); err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		loads, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(function(){var n={};
			performance.getEntriesByType("resource").forEach(function(e){var p=new URL(e.name).pathname;if(p.startsWith("/_fragments/"))n[p]=(n[p]||0)+1});return n})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(loads) < 3 {
			t.Errorf("%s loaded fragment stylesheets %v, want every fragment's", path, loads)
		}
		for p, n := range loads {
			if n != 1 {
				t.Errorf("%s loaded %s %d times, want once", path, p, n)
			}
		}
	}
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "Lynx reintroduction plan for Kielder Forest clears first public vote · Tessera+" {
		t.Errorf("story tab title %q, %v", title, err)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
