package app_test

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

var screenshots = flag.Bool("screenshots", false, "write screenshots of the composed pages to docs/")

// TestBrowserSeesComposedSite loads the composed site in headless Chromium
// and checks that every fragment is rendered visibly, that the city picker
// changes the weather, and that the browser reports no errors.
func TestBrowserSeesComposedSite(t *testing.T) {
	site := testSite(t, nil)
	base := "http://" + site.Composer.DisplayAddr()
	b := browsertest.New(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`[data-fragment="shows"]`)); err != nil {
		t.Fatalf("load home: %v", err)
	}
	for _, name := range []string{"topbar", "headlines", "weather", "shows"} {
		// Visible: laid out with a real size, not hidden.
		visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
			const el = document.querySelector('[data-slot="`+name+`"] [data-fragment="`+name+`"]');
			if (!el) return false;
			const r = el.getBoundingClientRect();
			const s = getComputedStyle(el);
			return r.width > 100 && r.height > 20 && s.visibility !== 'hidden' && s.display !== 'none';
		})()`))
		if err != nil {
			t.Fatalf("check %s: %v", name, err)
		}
		if !visible {
			t.Errorf("fragment %s is not visible on the home page", name)
		}
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || title != "Home · Tessera+" {
		t.Errorf("title %q, %v", title, err)
	}
	if *screenshots {
		if err := b.Screenshot(filepath.Join("..", "..", "docs", "home.png")); err != nil {
			t.Fatal(err)
		}
	}

	// The weather widget's city picker reloads the page with that city.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`[data-slot="weather"] select[name="city"]`, "oslo"),
		chromedp.Submit(`[data-slot="weather"] select[name="city"]`),
		chromedp.WaitVisible(`[data-slot="weather"] [data-fragment="weather"]`),
	); err != nil {
		t.Fatalf("pick a city: %v", err)
	}
	waitFor(t, 10*time.Second, func() bool {
		txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-slot="weather"] [data-fragment="weather"]`)))
		return err == nil && strings.Contains(txt, "Oslo")
	})

	for _, path := range []string{"/shows", "/weather?city=tokyo"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(`[data-fragment]`)); err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		if *screenshots && path == "/shows" {
			if err := b.Screenshot(filepath.Join("..", "..", "docs", "shows.png")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("browser reported errors: %q", errs)
	}
}
