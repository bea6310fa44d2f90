package shows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/fragments/fragment/fragmenttest"
	"github.com/tessera-dev/tessera/fragments/shows"
)

var (
	secret = []byte("test-shows-secret")
	editor = "test-editor-token"
	now    = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	opts := make([]goleak.Option, 0, len(fragmenttest.IgnoredGoroutines))
	for _, f := range fragmenttest.IgnoredGoroutines {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	goleak.VerifyTestMain(m, opts...)
}

func testConfig(t *testing.T) shows.Config {
	cfg := shows.DefaultConfig()
	cfg.Secret, cfg.EditorToken = secret, editor
	cfg.StorePath = filepath.Join(t.TempDir(), "data", "shows-added.jsonl")
	cfg.Now = func() time.Time { return now }
	return cfg
}

func start(t *testing.T, cfg shows.Config, log *slog.Logger) *fragmenttest.Server {
	t.Helper()
	srv, err := shows.New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fragmenttest.Start(t, srv)
}

func snippet(t *testing.T, srv *fragmenttest.Server, uri string) *goquery.Document {
	t.Helper()
	resp := srv.Get(t, uri, fragmenttest.Signed(secret))
	if resp.StatusCode() != 200 {
		t.Fatalf("GET %s: status %d: %s", uri, resp.StatusCode(), resp.Body())
	}
	if got := string(resp.Header.Peek("X-Fragment-Version")); got != shows.Version {
		t.Errorf("version %q", got)
	}
	if got := string(resp.Header.Peek("Cache-Control")); got != "public, max-age=120, stale-while-revalidate=300" {
		t.Errorf("Cache-Control %q", got)
	}
	return fragmenttest.Document(t, resp.Body())
}

func titles(doc *goquery.Document) []string {
	return doc.Find(`[data-testid="show-title"]`).Map(func(_ int, s *goquery.Selection) string { return s.Text() })
}

func post(t *testing.T, srv *fragmenttest.Server, token string, body any) (*fasthttp.Response, map[string]any) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	opts := []func(*fasthttp.Request){func(r *fasthttp.Request) { r.Header.SetContentType("application/json") }}
	if token != "" {
		opts = append(opts, fragmenttest.Bearer(token))
	}
	resp := srv.Request(t, "POST", "/shows", raw, opts...)
	var out map[string]any
	if err := json.Unmarshal(resp.Body(), &out); err != nil {
		t.Fatalf("POST /shows: %d, body is not JSON: %q", resp.StatusCode(), resp.Body())
	}
	return resp, out
}

func newShow(title string) map[string]any {
	return map[string]any{"title": title, "genre": "Nature", "year": 2025, "episodes": 6, "synopsis": "Otters, mostly."}
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	cat, err := shows.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat) < 14 {
		t.Fatalf("%d shows", len(cat))
	}
	for i := 1; i < len(cat); i++ {
		if cat[i].Added.After(cat[i-1].Added) {
			t.Errorf("%s is out of order", cat[i].Slug)
		}
	}
}

func TestNeedsSecrets(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Secret = nil
	if _, err := shows.New(cfg, nil); err == nil {
		t.Error("New without a secret succeeded")
	}
	cfg = testConfig(t)
	cfg.EditorToken = ""
	if _, err := shows.New(cfg, nil); err == nil {
		t.Error("New without an editor token succeeded")
	}
}

func TestSnippetAuth(t *testing.T) {
	t.Parallel()
	srv := start(t, testConfig(t), nil)
	if got := srv.Get(t, "/").StatusCode(); got != 401 {
		t.Errorf("unsigned: %d", got)
	}
	if got := srv.Get(t, "/", fragmenttest.Signed([]byte("wrong"))).StatusCode(); got != 401 {
		t.Errorf("wrong secret: %d", got)
	}
	if got := srv.Get(t, "/", fragmenttest.Bearer(editor)).StatusCode(); got != 401 {
		t.Errorf("editor token on the snippet: %d", got)
	}
	if got := srv.Get(t, "/?view=grid", fragmenttest.Signed(secret)).StatusCode(); got != 200 {
		t.Errorf("signed: %d", got)
	}
}

func TestViews(t *testing.T) {
	t.Parallel()
	srv := start(t, testConfig(t), nil)
	cat, _ := shows.Catalogue()
	tests := []struct {
		query string
		view  string
		n     int
	}{
		{"/", "row", 8},
		{"/?view=row", "row", 8},
		{"/?view=nonsense", "row", 8},
		{"/?view=grid", "grid", len(cat)},
		{"/?view=grid&limit=3", "grid", 3},
		{"/?view=grid&limit=0", "grid", 1},
		{"/?view=grid&limit=-7", "grid", 1},
		{"/?view=grid&limit=5000", "grid", len(cat)},
		{"/?view=grid&limit=abc", "grid", len(cat)},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			doc := snippet(t, srv, tt.query)
			root := doc.Find(`[data-fragment="shows"]`)
			if root.Length() != 1 || !root.Is("section.frag.frag-shows") {
				t.Fatal("no single section.frag.frag-shows root")
			}
			if got, _ := root.Attr("data-view"); got != tt.view {
				t.Errorf("view %q, want %q", got, tt.view)
			}
			labelled, _ := root.Attr("aria-labelledby")
			if doc.Find("#"+labelled).Length() != 1 {
				t.Errorf("aria-labelledby %q names no element", labelled)
			}
			got := titles(doc)
			if len(got) != tt.n {
				t.Fatalf("%d shows, want %d", len(got), tt.n)
			}
			for i, title := range got {
				if title != cat[i].Title {
					t.Errorf("show %d is %q, want %q (newest first)", i, title, cat[i].Title)
				}
			}
			ids := map[string]bool{}
			doc.Find(`svg.frag-shows__poster`).Each(func(_ int, s *goquery.Selection) {
				if l, _ := s.Attr("aria-label"); !strings.HasPrefix(l, "Poster for ") {
					t.Errorf("poster label %q", l)
				}
				id, _ := s.Find("defs > *").Attr("id")
				if ids[id] {
					t.Errorf("gradient id %q used twice", id)
				}
				ids[id] = true
				if fill, _ := s.Find("rect").Attr("fill"); fill != "url(#"+id+")" {
					t.Errorf("poster fill %q does not use gradient %q", fill, id)
				}
			})
		})
	}
}

func TestPosterInitials(t *testing.T) {
	t.Parallel()
	doc := snippet(t, start(t, testConfig(t), nil), "/?view=grid")
	want := map[string]string{
		"deadliest-coasts":            "DC",
		"the-last-lighthouse-keepers": "LL",
		"secrets-of-the-silk-road":    "SS",
		"cold-case-arctic":            "CC",
	}
	for slug, initials := range want {
		card := doc.Find(`[data-testid="show"][data-slug="` + slug + `"]`)
		if got := card.Find("svg text").First().Text(); got != initials {
			t.Errorf("%s: initials %q, want %q", slug, got, initials)
		}
	}
}

func TestAddShow(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	var changes atomic.Int32
	cfg.OnChange = func(ctx context.Context) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("OnChange context has no deadline")
		}
		changes.Add(1)
	}
	srv := start(t, cfg, nil)

	resp, got := post(t, srv, editor, newShow("  River   Otters of  Shetland "))
	if resp.StatusCode() != 201 {
		t.Fatalf("status %d: %v", resp.StatusCode(), got)
	}
	if got["title"] != "River Otters of Shetland" || got["slug"] != "river-otters-of-shetland" || got["added"] != now.Format(time.RFC3339) {
		t.Errorf("stored show %v", got)
	}
	if changes.Load() != 1 {
		t.Errorf("OnChange called %d times", changes.Load())
	}

	row := titles(snippet(t, srv, "/"))
	if len(row) != 8 || row[0] != "River Otters of Shetland" {
		t.Errorf("row after adding: %q", row)
	}
	grid := snippet(t, srv, "/?view=grid")
	card := grid.Find(`#show-river-otters-of-shetland [data-testid="show"]`)
	if card.Length() != 1 {
		t.Fatal("added show not in the grid")
	}
	if got := card.Find("svg text").First().Text(); got != "RO" {
		t.Errorf("initials %q", got)
	}

	// A restart keeps the show.
	srv2 := start(t, cfg, nil)
	if row := titles(snippet(t, srv2, "/")); row[0] != "River Otters of Shetland" {
		t.Errorf("after restart: %q", row)
	}
	// Same title again is a conflict, also after the restart.
	if resp, body := post(t, srv2, editor, newShow("river otters of shetland")); resp.StatusCode() != 409 {
		t.Errorf("duplicate: %d %v", resp.StatusCode(), body)
	}
}

func TestAddShowErrors(t *testing.T) {
	t.Parallel()
	srv := start(t, testConfig(t), nil)
	long := strings.Repeat("x", shows.MaxTitleLen+1)
	tests := []struct {
		name   string
		token  string
		body   any
		status int
		msg    string
	}{
		{"no token", "", newShow("A"), 401, "unauthorized"},
		{"wrong token", "nope", newShow("A"), 401, "unauthorized"},
		{"composer secret is not the editor token", string(secret), newShow("A"), 401, "unauthorized"},
		{"not json", editor, "title=A", 400, "body must be a JSON object"},
		{"empty", editor, "", 400, "body must be a JSON object"},
		{"array", editor, "[1,2]", 400, "body must be a JSON object"},
		{"two objects", editor, `{"title":"A","genre":"B","year":2020,"episodes":1} {}`, 400, "single JSON object"},
		{"unknown field", editor, `{"title":"A","genre":"B","year":2020,"episodes":1,"rating":5}`, 400, `unknown field "rating"`},
		{"wrong type", editor, `{"title":"A","genre":"B","year":"2020","episodes":1}`, 400, "year: must be a whole number between 1900 and 2028"},
		{"fractional year", editor, `{"title":"A","genre":"B","year":2020.5,"episodes":1}`, 400, "year: must be a whole number between 1900 and 2028"},
		{"episodes as text", editor, `{"title":"A","genre":"B","year":2020,"episodes":"six"}`, 400, "episodes: must be a whole number between 1 and 999"},
		{"title as number", editor, `{"title":7,"genre":"B","year":2020,"episodes":1}`, 400, "title: must be text of at most 80 characters"},
		{"missing fields", editor, `{}`, 400, "title is required; genre is required; year is required; episodes is required"},
		{"blank title", editor, map[string]any{"title": "   ", "genre": "Nature", "year": 2020, "episodes": 3}, 400, "title is required"},
		{"long title", editor, map[string]any{"title": long, "genre": "Nature", "year": 2020, "episodes": 3}, 400, "title must be at most 80 characters"},
		{"control characters", editor, map[string]any{"title": "Bell\u0007", "genre": "Nature", "year": 2020, "episodes": 3}, 400, "title contains invalid characters"},
		{"old year", editor, map[string]any{"title": "Old", "genre": "Nature", "year": 1850, "episodes": 3}, 400, "year must be between 1900 and 2028"},
		{"future year", editor, map[string]any{"title": "Future", "genre": "Nature", "year": 2100, "episodes": 3}, 400, "year must be between"},
		{"negative episodes", editor, map[string]any{"title": "Neg", "genre": "Nature", "year": 2020, "episodes": -1}, 400, "episodes must be between 1 and 999"},
		{"long synopsis", editor, map[string]any{"title": "Syn", "genre": "Nature", "year": 2020, "episodes": 1, "synopsis": strings.Repeat("y", 501)}, 400, "synopsis must be at most 500"},
		{"too large", editor, `{"title":"` + strings.Repeat("z", shows.MaxBodyBytes) + `"}`, 413, "larger than"},
		{"builtin title", editor, newShow("Volcano Watch"), 409, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := post(t, srv, tt.token, tt.body)
			if resp.StatusCode() != tt.status {
				t.Errorf("status %d, want %d (%v)", resp.StatusCode(), tt.status, body)
			}
			if msg, _ := body["error"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q does not say %q", msg, tt.msg)
			}
		})
	}
	req := srv.Request(t, "POST", "/shows", []byte(`{}`), fragmenttest.Bearer(editor), func(r *fasthttp.Request) { r.Header.SetContentType("text/plain") })
	if req.StatusCode() != 415 {
		t.Errorf("text/plain body: status %d", req.StatusCode())
	}
	if got := len(titles(snippet(t, srv, "/?view=grid"))); got != 14 {
		t.Errorf("refused shows were added: %d shows", got)
	}
}

func TestStoreSkipsCorruptLines(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	good := shows.Show{Slug: "kept", Title: "Kept Show", Genre: "Nature", Year: 2024, Episodes: 2, Added: now, Colors: [2]string{"#000000", "#ffffff"}}
	line, _ := json.Marshal(good)
	data := strings.Join([]string{
		`{"slug":"broken",`,
		string(line),
		`not json at all`,
		`{"slug":"Bad Slug","title":"x","added":"2025-01-01T00:00:00Z","colors":["#000000","#ffffff"]}`,
		`{"slug":"half","title":"Cut off","genre":"N`, // a write cut short: no newline
	}, "\n")
	if err := os.MkdirAll(filepath.Dir(cfg.StorePath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.StorePath, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	srv := start(t, cfg, log)

	if row := titles(snippet(t, srv, "/")); row[0] != "Kept Show" {
		t.Errorf("row %q", row)
	}
	mu.Lock()
	warnings := strings.Count(logs.String(), "level=WARN")
	mu.Unlock()
	if warnings != 4 {
		t.Errorf("%d warnings, want 4:\n%s", warnings, logs.String())
	}
	// The next record starts on a line of its own.
	if resp, body := post(t, srv, editor, newShow("After The Crash")); resp.StatusCode() != 201 {
		t.Fatalf("add: %d %v", resp.StatusCode(), body)
	}
	srv2 := start(t, cfg, nil)
	row := titles(snippet(t, srv2, "/"))
	if !contains(row, "After The Crash") || !contains(row, "Kept Show") {
		t.Errorf("after restart: %q", row)
	}
}

func TestConcurrentAdds(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	var changes atomic.Int32
	cfg.OnChange = func(context.Context) { changes.Add(1) }
	srv := start(t, cfg, nil)
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &fasthttp.Request{}
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://fragment.test/shows")
			req.Header.SetContentType("application/json")
			fragmenttest.Bearer(editor)(req)
			// Half the titles collide on their slug but not on their title.
			req.SetBodyString(fmt.Sprintf(`{"title":"Storm %d%s","genre":"Weather","year":2025,"episodes":3}`, i/2, strings.Repeat("!", i%2)))
			if resp, err := srv.Do(req); err == nil {
				statuses[i] = resp.StatusCode()
			}
		}()
		// Readers run at the same time.
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &fasthttp.Request{}
			req.SetRequestURI("http://fragment.test/?view=grid")
			fragmenttest.Signed(secret)(req)
			if resp, err := srv.Do(req); err != nil || resp.StatusCode() != 200 {
				t.Errorf("concurrent read failed: %v", err)
			}
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("add %d: status %d", i, s)
		}
	}
	if changes.Load() != n {
		t.Errorf("OnChange called %d times", changes.Load())
	}
	doc := snippet(t, srv, "/?view=grid")
	slugs := map[string]bool{}
	doc.Find(`[data-testid="show"]`).Each(func(_ int, s *goquery.Selection) {
		slug, _ := s.Attr("data-slug")
		if slugs[slug] {
			t.Errorf("slug %q used twice", slug)
		}
		slugs[slug] = true
	})
	if len(slugs) != 14+n {
		t.Errorf("%d shows, want %d", len(slugs), 14+n)
	}
	b, err := os.ReadFile(cfg.StorePath)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(b, []byte("\n")); lines != n {
		t.Errorf("store has %d lines, want %d", lines, n)
	}
}

func TestInMemoryStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.StorePath = ""
	srv := start(t, cfg, nil)
	if resp, body := post(t, srv, editor, newShow("Memory Only")); resp.StatusCode() != 201 {
		t.Fatalf("add: %d %v", resp.StatusCode(), body)
	}
}

func TestCatalogueFull(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MaxAdded = 1
	srv := start(t, cfg, nil)
	if resp, _ := post(t, srv, editor, newShow("First")); resp.StatusCode() != 201 {
		t.Fatalf("first add: %d", resp.StatusCode())
	}
	if resp, _ := post(t, srv, editor, newShow("Second")); resp.StatusCode() != 507 {
		t.Errorf("second add: %d, want 507", resp.StatusCode())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestStylesheet: both views link the fragment's own stylesheet, which
// the service serves without a signature.
func TestStylesheet(t *testing.T) {
	t.Parallel()
	srv := start(t, testConfig(t), nil)
	for _, view := range []string{shows.ViewRow, shows.ViewGrid} {
		css := string(srv.Stylesheet(t, srv.Get(t, "/?view="+view, fragmenttest.Signed(secret)), "shows.css"))
		for _, want := range []string{".frag-shows {", ".frag-shows .frag-shows__row {", ".frag-shows .frag-shows__grid {"} {
			if !strings.Contains(css, want) {
				t.Errorf("view %s: shows.css lacks %q", view, want)
			}
		}
	}
}
