package templates_test

import (
	"bytes"
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/tessera-dev/tessera/templates"
	"github.com/tessera-dev/tessera/web"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

func parse(t *testing.T, s string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// slotsOf returns, in document order, each [data-slot] wrapper as
// "NAME <!--MARKER-->", failing when a wrapper holds anything but one marker.
func slotsOf(t *testing.T, doc *goquery.Document) []string {
	t.Helper()
	var got []string
	doc.Find("[data-slot]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("data-slot")
		nodes := s.Contents().Nodes
		if len(nodes) != 1 || nodes[0].Type != html.CommentNode {
			t.Errorf("slot %q: want exactly one marker comment inside, got %d nodes", name, len(nodes))
			return
		}
		got = append(got, name+" <!--"+nodes[0].Data+"-->")
	})
	return got
}

func navCurrent(doc *goquery.Document) []string {
	var cur []string
	doc.Find(`[data-testid="site-nav"] a[aria-current="page"]`).Each(func(_ int, s *goquery.Selection) {
		cur = append(cur, s.Text())
	})
	return cur
}

func TestLayoutsNames(t *testing.T) {
	t.Parallel()
	var names []string
	for name := range templates.Layouts() {
		names = append(names, name)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"article", "home", "shows", "weather"}, names); diff != "" {
		t.Errorf("layout names (-want +got):\n%s", diff)
	}
	m := templates.Layouts()
	delete(m, "home")
	if _, ok := templates.Layouts()["home"]; !ok {
		t.Error("changing a returned map changed the built-in layouts")
	}
}

func TestLayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		layout    string
		data      templates.LayoutData
		wantTitle string
		wantNav   []string
		wantSlots []string
	}{
		{
			layout:    "home",
			data:      templates.LayoutData{Title: "Home", Path: "/"},
			wantTitle: "Home · Tessera+",
			wantNav:   []string{"Home"},
			wantSlots: []string{
				"topbar <!--@slot:topbar-->",
				"headlines <!--@slot:headlines-->",
				"shows <!--@slot:shows-->",
				"weather <!--@slot:weather-->",
			},
		},
		{
			layout:    "shows",
			data:      templates.LayoutData{Title: "New shows", Path: "/shows"},
			wantTitle: "New shows · Tessera+",
			wantNav:   []string{"Shows"},
			wantSlots: []string{
				"topbar <!--@slot:topbar-->",
				"shows <!--@slot:shows view=grid-->",
				"headlines <!--@slot:headlines view=list-->",
			},
		},
		{
			layout:    "weather",
			data:      templates.LayoutData{Title: "Weather", Path: "/weather"},
			wantTitle: "Weather · Tessera+",
			wantNav:   []string{"Weather"},
			wantSlots: []string{
				"topbar <!--@slot:topbar-->",
				"weather <!--@slot:weather view=full-->",
				"headlines <!--@slot:headlines view=list-->",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.layout, func(t *testing.T) {
			t.Parallel()
			out := render(t, templates.Layouts()[tt.layout](tt.data))
			if !strings.HasPrefix(strings.ToLower(out), "<!doctype html>") {
				t.Errorf("document does not start with a doctype: %.40q", out)
			}
			doc := parse(t, out)

			if got := doc.Find("title").Text(); got != tt.wantTitle {
				t.Errorf("title = %q, want %q", got, tt.wantTitle)
			}
			if diff := cmp.Diff(tt.wantNav, navCurrent(doc)); diff != "" {
				t.Errorf("aria-current links (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSlots, slotsOf(t, doc)); diff != "" {
				t.Errorf("slots (-want +got):\n%s", diff)
			}

			// The composer scans the raw bytes, so check the markers there too:
			// each exactly once, in document order, and no other markers.
			if n := strings.Count(out, "<!--@slot:"); n != len(tt.wantSlots) {
				t.Errorf("raw output has %d markers, want %d", n, len(tt.wantSlots))
			}
			last := -1
			for _, s := range tt.wantSlots {
				_, marker, _ := strings.Cut(s, " ")
				if c := strings.Count(out, marker); c != 1 {
					t.Errorf("marker %s appears %d times, want 1", marker, c)
				}
				i := strings.Index(out, marker)
				if i < last {
					t.Errorf("marker %s is out of order", marker)
				}
				last = i
			}

			checkChrome(t, doc)
		})
	}
}

// checkChrome checks what every document shares: head, landmarks, skip link.
func checkChrome(t *testing.T, doc *goquery.Document) {
	t.Helper()
	if lang, _ := doc.Find("html").Attr("lang"); lang != "en" {
		t.Errorf("html lang = %q, want en", lang)
	}
	if doc.Find("head meta[charset]").Length() != 1 {
		t.Error("missing meta charset")
	}
	if v, _ := doc.Find(`head meta[name="viewport"]`).Attr("content"); !strings.Contains(v, "width=device-width") {
		t.Errorf("viewport = %q", v)
	}
	var css []string
	doc.Find(`head link[rel="stylesheet"]`).Each(func(_ int, s *goquery.Selection) {
		css = append(css, s.AttrOr("href", ""))
	})
	if diff := cmp.Diff([]string{"/static/css/site.css"}, css); diff != "" {
		t.Errorf("stylesheets (-want +got):\n%s", diff)
	}
	if v := doc.Find(`head link[rel="icon"]`).AttrOr("href", ""); v != "/static/favicon.svg" {
		t.Errorf("favicon = %q", v)
	}
	if doc.Find(`body > a.skip-link[href="#main"]`).Length() != 1 {
		t.Error("missing skip link to #main")
	}
	if doc.Find("main#main").Length() != 1 {
		t.Error("want exactly one main#main")
	}
	if doc.Find("body > header").Length() != 1 || doc.Find("body > footer").Length() != 1 {
		t.Error("want a header and a footer")
	}
	if alt := doc.Find("header .brand img").AttrOr("alt", ""); alt != "Tessera+" {
		t.Errorf("logo alt = %q", alt)
	}
	var nav []string
	doc.Find(`[data-testid="site-nav"] a`).Each(func(_ int, s *goquery.Selection) {
		nav = append(nav, s.Text()+" "+s.AttrOr("href", ""))
	})
	if diff := cmp.Diff([]string{"Home /", "Shows /shows", "Weather /weather"}, nav); diff != "" {
		t.Errorf("nav (-want +got):\n%s", diff)
	}
	doc.Find("[aria-current]").Each(func(_ int, s *goquery.Selection) {
		if v := s.AttrOr("aria-current", ""); v != "page" {
			t.Errorf("aria-current = %q, want page", v)
		}
	})
	if doc.Find("script").Length() != 0 {
		t.Error("chrome must not need scripts")
	}
}

func TestNavActive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"Home"}},
		{"", nil},
		{"/shows", []string{"Shows"}},
		{"/shows/", []string{"Shows"}},
		{"/shows/new-arrivals", []string{"Shows"}},
		{"/showsy", nil},
		{"/weather", []string{"Weather"}},
		{"/weather/london", []string{"Weather"}},
		{"/weather?city=london", []string{"Weather"}},
		{"/about", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			for name, layout := range templates.Layouts() {
				doc := parse(t, render(t, layout(templates.LayoutData{Title: "T", Path: tt.path})))
				if diff := cmp.Diff(tt.want, navCurrent(doc)); diff != "" {
					t.Errorf("%s: aria-current links (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func TestLayoutTitle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, title, want string
	}{
		{"empty", "", "Tessera+"},
		{"blank", "  ", "Tessera+"},
		{"plain", "Shows", "Shows · Tessera+"},
		{"markup", `<script>alert("x")</script>`, `<script>alert("x")</script> · Tessera+`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for name, layout := range templates.Layouts() {
				out := render(t, layout(templates.LayoutData{Title: tt.title, Path: "/"}))
				if strings.Contains(out, "<script>") {
					t.Errorf("%s: title is not escaped", name)
				}
				if got := parse(t, out).Find("title").Text(); got != tt.want {
					t.Errorf("%s: title = %q, want %q", name, got, tt.want)
				}
			}
		})
	}
}

func TestSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		slot   string
		params []string
		want   string
	}{
		{"name only", "headlines", nil, "<!--@slot:headlines-->"},
		{"one param", "shows", []string{"view=grid"}, "<!--@slot:shows view=grid-->"},
		{"params keep order", "shows", []string{"view=grid", "limit=12", "primary=true"}, "<!--@slot:shows view=grid limit=12 primary=true-->"},
		{"all allowed chars", "a-z0-9", []string{"k.-_=V-1.0_x"}, "<!--@slot:a-z0-9 k.-_=V-1.0_x-->"},
		{"name is the protocol's name grammar", "a-Z_0.9", nil, ""},
		{"trailing dashes in a value", "a", []string{"k=v--"}, "<!--@slot:a k=v---->"},
		{"trailing dash in a name", "a-", nil, ""},
		{"63 chars", strings.Repeat("n", 63), nil, "<!--@slot:" + strings.Repeat("n", 63) + "-->"},
		{"64 chars", strings.Repeat("n", 64), nil, ""},
		{"empty name", "", nil, ""},
		{"space in name", "a b", nil, ""},
		{"comment close in name", "x-->", nil, ""},
		{"markup in name", "<script>", nil, ""},
		{"non-ascii name", "météo", nil, ""},
		{"65 chars", strings.Repeat("n", 65), nil, ""},
		{"param without =", "shows", []string{"grid"}, ""},
		{"empty key", "shows", []string{"=grid"}, ""},
		{"empty value", "shows", []string{"view="}, ""},
		{"two =", "shows", []string{"a=b=c"}, ""},
		{"space in param", "shows", []string{"view=grid limit=3"}, ""},
		{"close in value", "shows", []string{"view=-->"}, ""},
		{"newline in value", "shows", []string{"view=a\nb"}, ""},
		{"one bad param drops all", "shows", []string{"view=grid", "bad param"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := render(t, templates.Slot(tt.slot, tt.params...)); got != tt.want {
				t.Errorf("Slot(%q, %q) = %q, want %q", tt.slot, tt.params, got, tt.want)
			}
		})
	}
}

var markerPattern = regexp.MustCompile(`^<!--@slot:[A-Za-z0-9_.-]{1,64}( [A-Za-z0-9_.-]{1,64}=[A-Za-z0-9_.-]{1,64})*-->$`)

func FuzzSlot(f *testing.F) {
	f.Add("headlines", "view=list", "limit=3")
	f.Add("a--", "k=-->", "")
	f.Add("x y", "<b>=1", "a=b=c")
	f.Fuzz(func(t *testing.T, name, p1, p2 string) {
		out := render(t, templates.Slot(name, p1, p2))
		if out == "" {
			return
		}
		if !markerPattern.MatchString(out) {
			t.Fatalf("Slot(%q, %q, %q) = %q: not a well-formed marker", name, p1, p2, out)
		}
		if i := strings.Index(out, "-->"); i != len(out)-3 {
			t.Fatalf("Slot(%q, ...) = %q: the comment closes early", name, out)
		}
		fields := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(out, "<!--@slot:"), "-->"))
		if diff := cmp.Diff([]string{name, p1, p2}, fields); diff != "" {
			t.Fatalf("marker does not round-trip (-want +got):\n%s", diff)
		}
	})
}

func TestErrorPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		data        templates.ErrorData
		wantTitle   string
		wantStatus  string
		wantHeading string
		wantMessage string
		wantID      string
	}{
		{
			name:        "not found",
			data:        templates.ErrorData{Status: 404, Title: "Page not found", Message: "Nothing lives here.", RequestID: "req-123"},
			wantTitle:   "404 Page not found · Tessera+",
			wantStatus:  "404",
			wantHeading: "Page not found",
			wantMessage: "Nothing lives here.",
			wantID:      "req-123",
		},
		{
			name:        "server error defaults",
			data:        templates.ErrorData{Status: 500, RequestID: "abc"},
			wantTitle:   "500 Internal Server Error · Tessera+",
			wantStatus:  "500",
			wantHeading: "Internal Server Error",
			wantMessage: "Something went wrong on our side. Please try again in a moment.",
			wantID:      "abc",
		},
		{
			name:        "primary fragment unavailable",
			data:        templates.ErrorData{Status: 503, Title: "This page is unavailable", Message: "Please try again shortly."},
			wantTitle:   "503 This page is unavailable · Tessera+",
			wantStatus:  "503",
			wantHeading: "This page is unavailable",
			wantMessage: "Please try again shortly.",
		},
		{
			name:        "unknown status",
			data:        templates.ErrorData{},
			wantTitle:   "500 Internal Server Error · Tessera+",
			wantStatus:  "500",
			wantHeading: "Internal Server Error",
			wantMessage: "Something went wrong on our side. Please try again in a moment.",
		},
		{
			name:        "escaped",
			data:        templates.ErrorData{Status: 400, Title: "<i>t</i>", Message: "<script>m</script>", RequestID: `"><b>id`},
			wantTitle:   "400 <i>t</i> · Tessera+",
			wantStatus:  "400",
			wantHeading: "<i>t</i>",
			wantMessage: "<script>m</script>",
			wantID:      `"><b>id`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := render(t, templates.ErrorPage(tt.data))
			if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") || strings.Contains(out, "<i>") {
				t.Error("error data is not escaped")
			}
			doc := parse(t, out)
			checkChrome(t, doc)
			if got := doc.Find("title").Text(); got != tt.wantTitle {
				t.Errorf("title = %q, want %q", got, tt.wantTitle)
			}
			e := doc.Find(`main [data-testid="error"]`)
			if got := e.AttrOr("data-status", ""); got != tt.wantStatus {
				t.Errorf("status = %q, want %q", got, tt.wantStatus)
			}
			if got := e.Find("h1").Text(); got != tt.wantHeading {
				t.Errorf("heading = %q, want %q", got, tt.wantHeading)
			}
			if got := e.Find(`[data-testid="error-message"]`).Text(); got != tt.wantMessage {
				t.Errorf("message = %q, want %q", got, tt.wantMessage)
			}
			id := e.Find(`[data-testid="request-id"]`)
			if tt.wantID == "" {
				if id.Length() != 0 {
					t.Errorf("request id shown without one: %q", id.Text())
				}
			} else if got := id.Text(); got != tt.wantID {
				t.Errorf("request id = %q, want %q", got, tt.wantID)
			}
			if e.Find(`a[href="/"]`).Length() == 0 {
				t.Error("no way back to the home page")
			}
			if doc.Find(`meta[name="robots"][content="noindex"]`).Length() != 1 {
				t.Error("error pages must not be indexed")
			}
			if n := navCurrent(doc); len(n) != 0 {
				t.Errorf("error page marks %q as current", n)
			}
			if strings.Contains(out, "<!--@slot:") {
				t.Error("error page must not contain slot markers")
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	doc := parse(t, render(t, templates.NotFound("rid-9")))
	if got := doc.Find("title").Text(); got != "404 Page not found · Tessera+" {
		t.Errorf("title = %q", got)
	}
	if got := doc.Find(`[data-testid="request-id"]`).Text(); got != "rid-9" {
		t.Errorf("request id = %q", got)
	}
}

// TestAssetsExist checks that every /static/ URL the chrome links to is in
// web.Static.
func TestAssetsExist(t *testing.T) {
	t.Parallel()
	pages := map[string]templ.Component{"error": templates.NotFound("x")}
	for name, layout := range templates.Layouts() {
		pages[name] = layout(templates.LayoutData{Title: "T", Path: "/"})
	}
	for name, c := range pages {
		doc := parse(t, render(t, c))
		doc.Find("[href], [src]").Each(func(_ int, s *goquery.Selection) {
			for _, attr := range []string{"href", "src"} {
				u, ok := s.Attr(attr)
				if !ok || !strings.HasPrefix(u, "/static/") {
					continue
				}
				p := strings.TrimPrefix(u, "/static/")
				if _, err := fs.Stat(web.Static, p); err != nil {
					t.Errorf("%s links %s, which web.Static lacks: %v", name, u, err)
				}
			}
		})
	}
}
