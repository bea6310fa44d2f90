package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

var (
	updateStyle = flag.Bool("update-style", false, "rewrite the computed-style goldens in testdata/style")
	styleShots  = flag.String("style-screenshots", "", "write a full-page screenshot of each page the look-and-feel test measures into this directory")
)

// The viewport the look of the site is measured at.
const styleWidth, styleHeight = 1280, 900

// styleProps are the computed properties recorded for every selector.
// Nothing here depends on the clock: the pages show shipped data only.
var styleProps = []string{
	"color", "background-color", "background-image",
	"font-family", "font-size", "font-weight", "line-height", "letter-spacing",
	"text-transform", "text-decoration-line", "text-overflow", "white-space",
	"display", "position", "flex-direction", "align-items", "justify-content",
	"grid-template-columns", "grid-template-rows", "gap",
	"padding", "margin", "border-top", "border-left", "border-radius", "box-shadow",
	"width", "height", "min-height", "overflow", "list-style-type",
}

// stylePage is one page whose look is kept in a golden: the computed
// styles of the first element matching each selector (the link and script
// tags the composer places aside).
type stylePage struct {
	name string
	path string
	// down names the fragments that are down for this page, so that their
	// fallbacks are measured.
	down      []string
	selectors []string
}

// The top bar's pieces, by position, so the same selectors measure a
// fragment's markup and the fallback that takes its place.
var topbarSelectors = []string{
	`[data-slot="topbar"]`,
	`[data-slot="topbar"] > *`,
	`[data-slot="topbar"] > * > *`,
	`[data-slot="topbar"] > * > * > *`,
	`[data-slot="topbar"] > * > * > :first-child > *`,
	`[data-slot="topbar"] > * > * > :first-child > * > :first-child`,
	`[data-slot="topbar"] > * > * > :first-child > * > :last-child`,
	`[data-slot="topbar"] > * > * > :last-child > *`,
	`[data-slot="topbar"] > * > * > :last-child > * > :last-child`,
}

var stylePages = []stylePage{
	{name: "home", path: "/", selectors: append(topbarSelectors[:len(topbarSelectors):len(topbarSelectors)],
		`.frag-headlines--ticker li + li`,
		`.frag-headlines--ticker a`,
		`[data-slot="headlines"] .frag-headlines--hero`,
		`[data-slot="headlines"] .frag-headlines__heading`,
		`[data-slot="headlines"] .frag-headlines__lead`,
		`[data-slot="headlines"] .frag-headlines__lead .frag-headlines__section`,
		`[data-slot="headlines"] .frag-headlines__lead .frag-headlines__title`,
		`[data-slot="headlines"] .frag-headlines__lead .frag-headlines__standfirst`,
		`[data-slot="headlines"] .frag-headlines__more`,
		`[data-slot="headlines"] .frag-headlines__card`,
		`[data-slot="headlines"] .frag-headlines__card .frag-headlines__section`,
		`[data-slot="headlines"] .frag-headlines__card .frag-headlines__title`,
		`[data-slot="headlines"] .frag-headlines__meta`,
		`[data-slot="shows"] .frag-shows--row`,
		`[data-slot="shows"] .frag-shows__heading`,
		`[data-slot="shows"] .frag-shows__all`,
		`[data-slot="shows"] .frag-shows__row`,
		`[data-slot="shows"] .frag-shows__item`,
		`[data-slot="shows"] .frag-shows__poster`,
		`[data-slot="shows"] .frag-shows__title`,
		`[data-slot="weather"] .frag-weather--widget`,
		`[data-slot="weather"] .frag-weather__heading`,
		`[data-slot="weather"] .frag-weather__temp`,
		`[data-slot="weather"] .frag-weather__days`,
		`[data-slot="weather"] .frag-weather__day`,
		`[data-slot="weather"] .frag-weather__picker select`,
		`[data-slot="weather"] .frag-weather__picker button`,
	)},
	{name: "shows", path: "/shows", selectors: []string{
		`[data-slot="topbar"] > *`,
		`.page-title`,
		`[data-slot="shows"] .frag-shows--grid`,
		`[data-slot="shows"] .frag-shows__head`,
		`[data-slot="shows"] .frag-shows__heading`,
		`[data-slot="shows"] .frag-shows__count`,
		`[data-slot="shows"] .frag-shows__grid`,
		`[data-slot="shows"] .frag-shows__item`,
		`[data-slot="shows"] .frag-shows__link`,
		`[data-slot="shows"] .frag-shows__poster`,
		`[data-slot="shows"] .frag-shows__title`,
		`[data-slot="shows"] .frag-shows__meta`,
		`[data-slot="shows"] .frag-shows__synopsis`,
		`[data-slot="shows"] .frag-shows__added`,
		`[data-slot="headlines"] .frag-headlines--list`,
		`[data-slot="headlines"] .frag-headlines__heading`,
		`[data-slot="headlines"] .frag-headlines__list`,
		`[data-slot="headlines"] .frag-headlines__row`,
		`[data-slot="headlines"] .frag-headlines__row + .frag-headlines__row`,
		`[data-slot="headlines"] .frag-headlines__row .frag-headlines__meta`,
	}},
	{name: "weather", path: "/weather", selectors: []string{
		`[data-slot="topbar"] > *`,
		`[data-slot="weather"] .frag-weather--full`,
		`[data-slot="weather"] .frag-weather__heading`,
		`[data-slot="weather"] .frag-weather__place`,
		`[data-slot="weather"] .frag-weather__now`,
		`[data-slot="weather"] .frag-weather__now .frag-weather__icon`,
		`[data-slot="weather"] .frag-weather__temp`,
		`[data-slot="weather"] .frag-weather__alt`,
		`[data-slot="weather"] .frag-weather__summary`,
		`[data-slot="weather"] .frag-weather__facts`,
		`[data-slot="weather"] .frag-weather__facts div`,
		`[data-slot="weather"] .frag-weather__facts dt`,
		`[data-slot="weather"] .frag-weather__facts dd`,
		`[data-slot="weather"] .frag-weather__subhead`,
		`[data-slot="weather"] .frag-weather__days`,
		`[data-slot="weather"] .frag-weather__day`,
		`[data-slot="weather"] .frag-weather__hi`,
		`[data-slot="weather"] .frag-weather__lo`,
		`[data-slot="weather"] .frag-weather__sr`,
		`[data-slot="weather"] .frag-weather__daysummary`,
		`[data-slot="weather"] .frag-weather__extra`,
		`[data-slot="weather"] .frag-weather__foot`,
		`[data-slot="weather"] .frag-weather__picker`,
		`[data-slot="weather"] .frag-weather__picker label`,
		`[data-slot="headlines"] .frag-headlines--list`,
	}},
	{name: "news", path: "/news/night-train-lisbon-madrid-returns", selectors: []string{
		`[data-slot="topbar"] > *`,
		`[data-slot="headlines"] .frag-headlines--article`,
		`[data-slot="headlines"] .frag-headlines--article .frag-headlines__section`,
		`[data-slot="headlines"] .frag-headlines__article-title`,
		`[data-slot="headlines"] .frag-headlines--article .frag-headlines__standfirst`,
		`[data-slot="headlines"] .frag-headlines--article .frag-headlines__meta`,
		`[data-slot="weather"] .frag-weather--widget`,
		`[data-slot="weather"] .frag-weather__heading`,
		`[data-slot="weather"] .frag-weather__place`,
		`[data-slot="weather"] .frag-weather__now`,
		`[data-slot="weather"] .frag-weather__detail`,
		`[data-slot="weather"] .frag-weather__days`,
		`[data-slot="weather"] .frag-weather__more`,
		`[data-slot="headlines-list"] .frag-headlines--list`,
		`[data-slot="headlines-list"] .frag-headlines__row`,
		`[data-slot="headlines-list"] .frag-headlines__section`,
		`[data-slot="headlines-list"] .frag-headlines__title`,
	}},
	// The fallbacks: what stands in for a fragment that is down must keep
	// its look whatever stylesheets the page has.
	{name: "home-headlines-down", path: "/", down: []string{"headlines"}, selectors: append(topbarSelectors[:len(topbarSelectors):len(topbarSelectors)],
		`[data-slot="headlines"] > *`,
		`[data-slot="headlines"] > * > p`,
	)},
	{name: "home-weather-down", path: "/", down: []string{"weather"}, selectors: append(topbarSelectors[:len(topbarSelectors):len(topbarSelectors)],
		`[data-slot="weather"] > *`,
		`[data-slot="weather"] > * > p`,
	)},
	{name: "home-all-down", path: "/", down: []string{"headlines", "weather", "shows", "topbar"}, selectors: append(topbarSelectors[:len(topbarSelectors):len(topbarSelectors)],
		`[data-slot="headlines"] > *`,
		`[data-slot="shows"] > *`,
		`[data-slot="weather"] > *`,
	)},
}

// styleGolden is one page's golden: for each selector, in the order
// measured, its computed styles (nil when nothing matched).
type styleGolden struct {
	Path     string         `json:"path"`
	Down     []string       `json:"down,omitempty"`
	Viewport string         `json:"viewport"`
	Elements []styleElement `json:"elements"`
}

type styleElement struct {
	Selector string            `json:"selector"`
	Styles   map[string]string `json:"styles"`
}

// TestSiteLooksAsBefore measures the computed styles of the site's key
// elements in headless Chromium at 1280x900 and compares them with the
// goldens in testdata/style, so that moving a rule from one stylesheet to
// another cannot change how a page looks. Run with -update-style to
// rewrite the goldens, and with -style-screenshots=DIR for full-page
// screenshots to compare by eye.
func TestSiteLooksAsBefore(t *testing.T) {
	b := browsertest.New(t)
	sites := map[string]string{}
	for _, p := range stylePages {
		key := strings.Join(p.down, ",")
		base, ok := sites[key]
		if !ok {
			env := map[string]string{}
			for _, name := range p.down {
				env["TESSERA_FRAGMENT_"+strings.ToUpper(name)+"_URL"] = "http://127.0.0.1:1/"
			}
			base = "http://" + testSite(t, env).Composer.DisplayAddr()
			sites[key] = base
		}
		t.Run(p.name, func(t *testing.T) {
			got := measureStyles(t, b, base, p)
			file := filepath.Join("testdata", "style", p.name+".json")
			if *updateStyle {
				writeStyleGolden(t, file, got)
				return
			}
			want := readStyleGolden(t, file)
			for _, d := range diffStyles(want, got) {
				t.Error(d)
			}
		})
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		// Only the pages with fragments down may log failed loads.
		t.Logf("browser reported: %q", errs)
	}
}

// measureStyles loads the page and reads the computed styles of its
// selectors once every slot holds its final markup.
func measureStyles(t *testing.T, b *browsertest.Browser, base string, p stylePage) styleGolden {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(styleWidth, styleHeight),
		chromedp.Navigate(base+p.path),
	); err != nil {
		t.Fatalf("load %s: %v", p.path, err)
	}
	// Loaded, fonts ready, and no slot still waiting for its markup.
	const settled = `document.readyState === 'complete' && document.fonts.status === 'loaded' &&
		!document.querySelector('template[for], [aria-busy="true"]')`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](settled, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("%s did not settle: %v", p.path, err)
	}
	sels, _ := json.Marshal(p.selectors)
	props, _ := json.Marshal(styleProps)
	// The first match that is not a tag the composer placed: a stylesheet
	// that came after the head left stands just before its slot's markup,
	// inside the slot's element, and a script just after it.
	styles, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`((sels, props) => sels.map(sel => {
		const el = [...document.querySelectorAll(sel)].find(e => e.localName !== 'link' && e.localName !== 'script');
		if (!el) return null;
		const cs = getComputedStyle(el);
		const o = {};
		for (const p of props) o[p] = cs.getPropertyValue(p);
		return o;
	}))(`+string(sels)+`, `+string(props)+`)`))
	if err != nil {
		t.Fatalf("measure %s: %v", p.path, err)
	}
	if len(styles) != len(p.selectors) {
		t.Fatalf("measure %s: %d results for %d selectors", p.path, len(styles), len(p.selectors))
	}
	g := styleGolden{Path: p.path, Down: p.down, Viewport: fmt.Sprintf("%dx%d", styleWidth, styleHeight)}
	for i, sel := range p.selectors {
		g.Elements = append(g.Elements, styleElement{Selector: sel, Styles: styles[i]})
	}
	if *styleShots != "" {
		if err := b.Screenshot(filepath.Join(*styleShots, p.name+".png")); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func writeStyleGolden(t *testing.T, file string, g styleGolden) {
	t.Helper()
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readStyleGolden(t *testing.T, file string) styleGolden {
	t.Helper()
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no golden %s: run go test -run TestSiteLooksAsBefore -update-style to record it", file)
	}
	if err != nil {
		t.Fatal(err)
	}
	var g styleGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return g
}

// diffStyles lists, one line each, what differs between the golden and
// the page as measured.
func diffStyles(want, got styleGolden) []string {
	if want.Viewport != got.Viewport {
		return []string{fmt.Sprintf("golden measured at %s, page at %s: run with -update-style", want.Viewport, got.Viewport)}
	}
	byName := make(map[string]map[string]string, len(want.Elements))
	known := make(map[string]bool, len(want.Elements))
	for _, e := range want.Elements {
		byName[e.Selector], known[e.Selector] = e.Styles, true
	}
	var diffs []string
	for _, e := range got.Elements {
		w := byName[e.Selector]
		switch {
		case !known[e.Selector]:
			diffs = append(diffs, fmt.Sprintf("%s: not in the golden; run with -update-style to record it", e.Selector))
			continue
		case w == nil && e.Styles == nil:
			continue
		case w == nil:
			diffs = append(diffs, fmt.Sprintf("%s: matches an element now; it matched none in the golden", e.Selector))
			continue
		case e.Styles == nil:
			diffs = append(diffs, fmt.Sprintf("%s: matches no element; the golden has one", e.Selector))
			continue
		}
		for _, p := range styleProps {
			if gv, wv := e.Styles[p], w[p]; !sameStyle(wv, gv) {
				diffs = append(diffs, fmt.Sprintf("%s { %s }: %q, golden %q", e.Selector, p, gv, wv))
			}
		}
	}
	return diffs
}

// sameStyle compares two computed values, allowing lengths half a pixel
// apart: sub-pixel layout may round differently, a changed rule does not.
func sameStyle(a, b string) bool {
	if a == b {
		return true
	}
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i] == fb[i] {
			continue
		}
		na, okA := pixels(fa[i])
		nb, okB := pixels(fb[i])
		if !okA || !okB || math.Abs(na-nb) > 0.5 {
			return false
		}
	}
	return true
}

func pixels(s string) (float64, bool) {
	s = strings.TrimSuffix(s, ",")
	num, ok := strings.CutSuffix(s, "px")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	return f, err == nil
}
