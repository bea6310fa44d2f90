package weather_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/fragments/fragment/fragmenttest"
	"github.com/tessera-dev/tessera/fragments/weather"
)

const token = "test-weather-token"

func TestMain(m *testing.M) {
	opts := make([]goleak.Option, 0, len(fragmenttest.IgnoredGoroutines))
	for _, f := range fragmenttest.IgnoredGoroutines {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

func start(t *testing.T) *fragmenttest.Server {
	t.Helper()
	cfg := weather.DefaultConfig()
	cfg.Token = token
	srv, err := weather.New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fragmenttest.Start(t, srv)
}

func get(t *testing.T, srv *fragmenttest.Server, uri string) *goquery.Document {
	t.Helper()
	resp := srv.Get(t, uri, fragmenttest.Bearer(token))
	if resp.StatusCode() != 200 {
		t.Fatalf("GET %s: status %d: %s", uri, resp.StatusCode(), resp.Body())
	}
	if got := string(resp.Header.Peek("X-Fragment-Version")); got != weather.Version {
		t.Errorf("version %q", got)
	}
	if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=60, stale-while-revalidate=120" {
		t.Errorf("Cache-Control %q", got)
	}
	if n := len(resp.Body()); n > 10<<10 {
		t.Errorf("GET %s: snippet is %d bytes", uri, n)
	}
	return fragmenttest.Document(t, resp.Body())
}

func TestNeedsToken(t *testing.T) {
	t.Parallel()
	if _, err := weather.New(weather.DefaultConfig(), nil); err == nil {
		t.Fatal("New without a token succeeded")
	}
	cfg := weather.DefaultConfig()
	cfg.Token, cfg.DefaultCity = token, "atlantis"
	if _, err := weather.New(cfg, nil); err == nil {
		t.Fatal("New with an unknown default city succeeded")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tests := []struct {
		name   string
		opts   []func(*fasthttp.Request)
		status int
	}{
		{"no token", nil, 401},
		{"wrong token", []func(*fasthttp.Request){fragmenttest.Bearer("nope")}, 401},
		{"good token", []func(*fasthttp.Request){fragmenttest.Bearer(token)}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := srv.Get(t, "/?city=paris", tt.opts...).StatusCode(); got != tt.status {
				t.Errorf("status %d, want %d", got, tt.status)
			}
		})
	}
	if got := srv.Get(t, "/healthz").StatusCode(); got != 200 {
		t.Errorf("healthz: status %d", got)
	}
}

func TestCities(t *testing.T) {
	t.Parallel()
	cities, err := weather.Cities()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"london", "paris", "new-york", "tokyo", "sydney", "oslo", "cape-town", "sao-paulo"}
	have := map[string]bool{}
	for _, c := range cities {
		have[c.Slug] = true
		if len(c.Forecast) != 5 {
			t.Errorf("%s: %d forecast days", c.Slug, len(c.Forecast))
		}
		for _, d := range c.Forecast {
			if d.LowC > d.HighC {
				t.Errorf("%s %s: low %d above high %d", c.Slug, d.Date, d.LowC, d.HighC)
			}
		}
	}
	for _, slug := range want {
		if !have[slug] {
			t.Errorf("no data for %s", slug)
		}
	}
}

func TestCitySelection(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tests := []struct {
		name  string
		query string
		slug  string
		city  string
	}{
		{"missing city is london", "/", "london", "London"},
		{"known city", "/?city=tokyo", "tokyo", "Tokyo"},
		{"case and spaces", "/?city=%20New-York%20", "new-york", "New York"},
		{"unknown city is london", "/?city=atlantis", "london", "London"},
		{"hostile input is london", "/?city=%3Cscript%3Ealert(1)%3C/script%3E", "london", "London"},
		{"empty city", "/?city=", "london", "London"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := get(t, srv, tt.query)
			root := doc.Find(`[data-fragment="weather"]`)
			if root.Length() != 1 || !root.Is("section.frag.frag-weather") {
				t.Fatalf("no single section.frag.frag-weather root")
			}
			if got, _ := root.Attr("data-city"); got != tt.slug {
				t.Errorf("data-city %q, want %q", got, tt.slug)
			}
			if got := doc.Find(`[data-testid="weather-city"]`).Text(); got != tt.city {
				t.Errorf("city %q, want %q", got, tt.city)
			}
			if got, _ := doc.Find(`select[name="city"] option[selected]`).Attr("value"); got != tt.slug {
				t.Errorf("selected option %q, want %q", got, tt.slug)
			}
			html, _ := doc.Html()
			if strings.Contains(html, "<script") || strings.Contains(html, "atlantis") {
				t.Error("raw input reflected into the snippet")
			}
		})
	}
}

func TestViews(t *testing.T) {
	t.Parallel()
	srv := start(t)
	tests := []struct {
		query   string
		view    string
		days    int
		details bool
		more    bool
	}{
		{"/?city=oslo", "widget", 3, false, true},
		{"/?city=oslo&view=widget", "widget", 3, false, true},
		{"/?city=oslo&view=bogus", "widget", 3, false, true},
		{"/?city=oslo&view=full", "full", 5, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			doc := get(t, srv, tt.query)
			root := doc.Find(`[data-fragment="weather"]`)
			if got, _ := root.Attr("data-view"); got != tt.view {
				t.Errorf("view %q, want %q", got, tt.view)
			}
			labelled, _ := root.Attr("aria-labelledby")
			if doc.Find("#"+labelled).Length() != 1 {
				t.Errorf("aria-labelledby %q names no element", labelled)
			}
			if got := doc.Find(`[data-testid="weather-day"]`).Length(); got != tt.days {
				t.Errorf("%d days, want %d", got, tt.days)
			}
			if got := doc.Find(`[data-testid="weather-details"]`).Length() == 1; got != tt.details {
				t.Errorf("details shown: %v", got)
			}
			if got := doc.Find(`[data-testid="weather-more"]`).Length() == 1; got != tt.more {
				t.Errorf("full-forecast link shown: %v", got)
			}
			if got := doc.Find(`[data-testid="weather-temp"]`).Text(); !strings.HasPrefix(got, "\u22122°") {
				t.Errorf("Oslo temperature %q", got)
			}
			doc.Find("svg").Each(func(_ int, s *goquery.Selection) {
				if l, ok := s.Attr("aria-label"); !ok || l == "" {
					t.Error("icon without aria-label")
				}
			})
			form := doc.Find(`form[data-testid="weather-form"]`)
			if m, _ := form.Attr("method"); m != "get" {
				t.Errorf("form method %q", m)
			}
			if a, ok := form.Attr("action"); !ok || a != "" {
				t.Errorf("form action %q (present %v), want empty", a, ok)
			}
			id, _ := form.Find("select").Attr("id")
			if form.Find(`label[for="`+id+`"]`).Length() != 1 {
				t.Error("select has no label")
			}
		})
	}
}

func TestWidgetLinksToCityPage(t *testing.T) {
	t.Parallel()
	doc := get(t, start(t), "/?city=cape-town")
	if href, _ := doc.Find(`[data-testid="weather-more"]`).Attr("href"); href != "/weather?city=cape-town" {
		t.Errorf("link %q", href)
	}
}

// TestStylesheet: every view links the fragment's own stylesheet, which
// the service serves without the bearer token.
func TestStylesheet(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, view := range []string{weather.ViewWidget, weather.ViewFull, weather.ViewMini} {
		css := string(srv.Stylesheet(t, srv.Get(t, "/?view="+view, fragmenttest.Bearer(token)), "weather.css"))
		for _, want := range []string{".frag-weather {", ".frag-weather--full .frag-weather__days", ".frag-weather--mini {"} {
			if !strings.Contains(css, want) {
				t.Errorf("view %s: weather.css lacks %q", view, want)
			}
		}
	}
}
