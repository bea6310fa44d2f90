package headlines_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/fragments/fragment/fragmenttest"
	"github.com/tessera-dev/tessera/fragments/headlines"
	"github.com/tessera-dev/tessera/internal/protocol"
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

func TestArticle(t *testing.T) {
	t.Parallel()
	srv := start(t)
	feed, err := headlines.Stories()
	if err != nil {
		t.Fatal(err)
	}
	st := feed[3]
	resp := srv.Get(t, "/?view=article&story="+st.Slug)
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	doc := fragmenttest.Document(t, resp.Body())
	if got := doc.Find(`[data-testid="headline-title"]`).Text(); got != st.Title {
		t.Errorf("title %q, want %q", got, st.Title)
	}
	head := map[string]string{}
	for name, max := range map[string]int{
		protocol.HeaderTitle:       protocol.MaxTitle,
		protocol.HeaderDescription: protocol.MaxDescription,
		protocol.HeaderCanonical:   protocol.MaxCanonical,
	} {
		if v, ok := protocol.DecodeHeadValue(resp.Header.Peek(name), max); ok {
			head[name] = v
		}
	}
	want := map[string]string{
		protocol.HeaderTitle:       st.Title,
		protocol.HeaderDescription: st.Standfirst,
		protocol.HeaderCanonical:   "/news/" + st.Slug,
	}
	if diff := cmp.Diff(want, head); diff != "" {
		t.Errorf("head (-want +got):\n%s", diff)
	}
	if v := resp.Header.Peek(protocol.HeaderRobots); v != nil {
		t.Errorf("robots %q on a live story", v)
	}
	// The other views say nothing about the page.
	if v := srv.Get(t, "/?view=list").Header.Peek(protocol.HeaderTitle); v != nil {
		t.Errorf("the list view sets the title %q", v)
	}
}

func TestArticleNotFound(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ok := srv.Get(t, "/?view=article&story=lynx-return-kielder-forest")
	for _, slug := range []string{"no-such-story", "", "%3Cscript%3E"} {
		resp := srv.Get(t, "/?view=article&story="+slug)
		if resp.StatusCode() != 404 {
			t.Fatalf("%q: status %d, want 404", slug, resp.StatusCode())
		}
		doc := fragmenttest.Document(t, resp.Body())
		root := doc.Find(`article[data-fragment="headlines"][data-view="article"]`)
		if root.Length() != 1 || !strings.Contains(root.Find("h1").Text(), "Story not found") {
			t.Errorf("%q: body %s", slug, resp.Body())
		}
		for _, h := range []string{"Cache-Control", "X-Fragment-Version", "Content-Type"} {
			if got, want := string(resp.Header.Peek(h)), string(ok.Header.Peek(h)); got != want {
				t.Errorf("%q: %s %q, a story's is %q", slug, h, got, want)
			}
		}
		if got := fragmenttest.Stylesheets(resp); len(got) != 1 {
			t.Errorf("%q: stylesheets %q, want the fragment's", slug, got)
		}
		if v := resp.Header.Peek(protocol.HeaderTitle); v != nil {
			t.Errorf("%q: title %q", slug, v)
		}
	}
}

func TestMovedStoryRedirects(t *testing.T) {
	t.Parallel()
	moved, err := headlines.Moved()
	if err != nil {
		t.Fatal(err)
	}
	if moved["lisbon-madrid-sleeper-train"] != "night-train-lisbon-madrid-returns" {
		t.Fatalf("shipped moves %v", moved)
	}
	cfg := headlines.DefaultConfig()
	for _, base := range []string{cfg.ArticleBase, "/stories/"} {
		cfg.ArticleBase = base
		srv, err := headlines.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := fragmenttest.Start(t, srv)
		for from, to := range moved {
			resp := ts.Get(t, "/?view=article&story="+from)
			if resp.StatusCode() != 301 || string(resp.Header.Peek("Location")) != base+to {
				t.Errorf("%s with ArticleBase %q: %d, Location %q; want 301 to %s", from, base, resp.StatusCode(), resp.Header.Peek("Location"), base+to)
			}
			if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=30, stale-while-revalidate=60" {
				t.Errorf("%s: Cache-Control %q", from, got)
			}
			// The story it moved to is there.
			if resp := ts.Get(t, "/?view=article&story="+to); resp.StatusCode() != 200 {
				t.Errorf("%s: status %d", to, resp.StatusCode())
			}
		}
	}
}

func TestMovedStoriesAreChecked(t *testing.T) {
	t.Parallel()
	feed := []headlines.Story{{Slug: "live"}}
	tests := []struct {
		raw  string
		want string
	}{
		{`{"old": "live"}`, ""},
		{`{"old": "nowhere"}`, `points to "nowhere", which is not in the feed`},
		{`{"live": "live"}`, `"live" is still in the feed`},
		{`["old"]`, "decode moved stories"},
	}
	for _, tt := range tests {
		_, err := headlines.CheckMoved(feed, []byte(tt.raw))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.raw, err, tt.want)
		}
	}
}
