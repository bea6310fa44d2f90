package app_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

// TestDegradedPagesStillLookRight loads the home page with fragments down
// in headless Chromium: the top bar keeps its height (within a few px)
// whatever is down in it, the mini weather never shows the widget's
// fallback card, and no dashed box appears. With -screenshots it writes
// docs/degraded-*.png.
func TestDegradedPagesStillLookRight(t *testing.T) {
	const down = "http://127.0.0.1:1/"
	b := browsertest.New(t)
	type look struct {
		Bar    float64 `json:"bar"`
		Card   bool    `json:"card"`
		Dashed int     `json:"dashed"`
		// Cut counts ticker headlines cut without an ellipsis.
		Cut int `json:"cut"`
	}
	measure := func(t *testing.T, env map[string]string, shot string) look {
		t.Helper()
		site := testSite(t, env)
		ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+site.Composer.DisplayAddr()+"/"), chromedp.WaitReady(`footer`)); err != nil {
			t.Fatalf("load home: %v", err)
		}
		l, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(() => {
			const bar = document.querySelector('[data-slot="topbar"]');
			return {
				bar: bar ? bar.getBoundingClientRect().height : -1,
				card: !!(bar && bar.querySelector('.frag-fallback')),
				dashed: [...document.querySelectorAll('body *')].filter(e => getComputedStyle(e).borderTopStyle === 'dashed').length,
				cut: [...document.querySelectorAll('.frag-headlines--ticker li')].filter(li => {
					const s = getComputedStyle(li);
					if (s.display === 'none' || li.getBoundingClientRect().width === 0) return false;
					// Text wider than its box must end in an ellipsis drawn by
					// the element that overflows.
					return [li, ...li.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).textOverflow !== 'ellipsis');
				}).length,
			};
		})()`))
		if err != nil {
			t.Fatalf("measure: %v", err)
		}
		if *screenshots && shot != "" {
			if err := b.Screenshot(filepath.Join("..", "..", "docs", shot)); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	healthy := measure(t, nil, "")
	if healthy.Bar < 20 {
		t.Fatalf("healthy top bar is %.0f px tall", healthy.Bar)
	}
	if healthy.Cut > 0 {
		t.Errorf("%d ticker headlines cut without an ellipsis", healthy.Cut)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		shot string
	}{
		{"weather down", map[string]string{"TESSERA_FRAGMENT_WEATHER_URL": down}, "degraded-weather.png"},
		{"headlines down", map[string]string{"TESSERA_FRAGMENT_HEADLINES_URL": down}, ""},
		{"top bar down", map[string]string{"TESSERA_FRAGMENT_TOPBAR_URL": down}, "degraded-topbar.png"},
		{"everything down", map[string]string{
			"TESSERA_FRAGMENT_WEATHER_URL": down, "TESSERA_FRAGMENT_HEADLINES_URL": down,
			"TESSERA_FRAGMENT_TOPBAR_URL": down, "TESSERA_FRAGMENT_SHOWS_URL": down,
		}, "degraded-all.png"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := measure(t, tt.env, tt.shot)
			if math.Abs(l.Bar-healthy.Bar) > 4 {
				t.Errorf("top bar %.0f px tall, healthy %.0f px", l.Bar, healthy.Bar)
			}
			if l.Card {
				t.Error("a fallback card sits in the top bar")
			}
			if l.Dashed > 0 {
				t.Errorf("%d dashed boxes on the page", l.Dashed)
			}
		})
	}
}
