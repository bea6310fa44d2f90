package headlines_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/fragments/fragment/fragmenttest"
	"github.com/tessera-dev/tessera/fragments/headlines"
)

func TestMain(m *testing.M) {
	opts := make([]goleak.Option, 0, len(fragmenttest.IgnoredGoroutines))
	for _, f := range fragmenttest.IgnoredGoroutines {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

func start(t *testing.T) *fragmenttest.Server {
	t.Helper()
	srv, err := headlines.New(headlines.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fragmenttest.Start(t, srv)
}

func TestStories(t *testing.T) {
	t.Parallel()
	feed, err := headlines.Stories()
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) < 12 {
		t.Fatalf("feed has %d stories, want at least 12", len(feed))
	}
	seen := map[string]bool{}
	for i, s := range feed {
		if seen[s.Slug] {
			t.Errorf("duplicate slug %q", s.Slug)
		}
		seen[s.Slug] = true
		if i > 0 && s.Published.After(feed[i-1].Published) {
			t.Errorf("story %q is newer than the one before it", s.Slug)
		}
	}
}

func TestViews(t *testing.T) {
	t.Parallel()
	srv := start(t)
	feed, err := headlines.Stories()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		query     string
		view      string
		lead      int
		headlines int
	}{
		{"default is hero", "/", "hero", 1, 4},
		{"hero", "/?view=hero", "hero", 1, 4},
		{"unknown view falls back to hero", "/?view=%3Cscript%3E", "hero", 1, 4},
		{"list", "/?view=list", "list", 0, len(feed)},
		{"list with limit", "/?view=list&limit=5", "list", 0, 5},
		{"list with silly limit", "/?view=list&limit=-3", "list", 0, len(feed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.Get(t, tt.query)
			if resp.StatusCode() != 200 {
				t.Fatalf("status %d", resp.StatusCode())
			}
			if got := string(resp.Header.Peek("X-Fragment-Version")); got != headlines.Version {
				t.Errorf("version %q", got)
			}
			if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=30, stale-while-revalidate=60" {
				t.Errorf("Cache-Control %q", got)
			}
			doc := fragmenttest.Document(t, resp.Body())
			root := doc.Find(`[data-fragment="headlines"]`)
			if root.Length() != 1 {
				t.Fatalf("%d root elements", root.Length())
			}
			if !root.Is("section.frag.frag-headlines") {
				t.Errorf("root is not section.frag.frag-headlines")
			}
			if v, _ := root.Attr("data-view"); v != tt.view {
				t.Errorf("view %q, want %q", v, tt.view)
			}
			labelled, _ := root.Attr("aria-labelledby")
			if doc.Find("#"+labelled).Length() != 1 {
				t.Errorf("aria-labelledby %q names no element", labelled)
			}
			if n := doc.Find(`[data-testid="headline-lead"]`).Length(); n != tt.lead {
				t.Errorf("%d lead stories, want %d", n, tt.lead)
			}
			if n := doc.Find(`[data-testid="headline"]`).Length(); n != tt.headlines {
				t.Errorf("%d headlines, want %d", n, tt.headlines)
			}
			if strings.Contains(string(resp.Body()), "<script") {
				t.Error("query reflected into the snippet")
			}
		})
	}
}

func TestHeroContent(t *testing.T) {
	t.Parallel()
	feed, err := headlines.Stories()
	if err != nil {
		t.Fatal(err)
	}
	doc := fragmenttest.Document(t, start(t).Get(t, "/").Body())
	lead := doc.Find(`[data-testid="headline-lead"]`)
	if got := lead.Find(`[data-testid="headline-title"]`).Text(); got != feed[0].Title {
		t.Errorf("lead %q, want the newest story %q", got, feed[0].Title)
	}
	if href, _ := lead.Find("a").Attr("href"); href != "/news/"+feed[0].Slug {
		t.Errorf("lead link %q", href)
	}
	if dt, _ := lead.Find("time").Attr("datetime"); dt != feed[0].Published.Format(time.RFC3339) {
		t.Errorf("datetime %q", dt)
	}
	doc.Find(`[data-testid="headline"]`).Each(func(i int, s *goquery.Selection) {
		if got := s.Find("h3").Text(); got != feed[i+1].Title {
			t.Errorf("secondary %d is %q, want %q", i, got, feed[i+1].Title)
		}
	})
}

func TestSnippetIsCompact(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, q := range []string{"/", "/?view=list"} {
		if n := len(srv.Get(t, q).Body()); n > 8<<10 {
			t.Errorf("%s: %d bytes", q, n)
		}
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	resp := start(t).Get(t, "/healthz")
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"version":"1.4.0"`) {
		t.Errorf("healthz: %d %s", resp.StatusCode(), resp.Body())
	}
}

// TestStylesheet: every view links the fragment's own stylesheet, and
// the stylesheet holds the rules of every view.
func TestStylesheet(t *testing.T) {
	t.Parallel()
	srv := start(t)
	for _, q := range []string{"/", "/?view=list", "/?view=ticker", "/?view=article&story=lynx-return-kielder-forest"} {
		css := string(srv.Stylesheet(t, srv.Get(t, q), "headlines.css"))
		for _, want := range []string{".frag-headlines {", ".frag-headlines--hero {", ".frag-headlines .frag-headlines__row {", ".frag-headlines--ticker {"} {
			if !strings.Contains(css, want) {
				t.Errorf("%s: headlines.css lacks %q", q, want)
			}
		}
	}
}
