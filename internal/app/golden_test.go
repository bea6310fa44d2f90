package app_test

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden pages in testdata/golden")

// TestGoldenPages composes every built-in page from the real fragment
// services and compares it with testdata/golden; run with -update after an
// intended change to the markup.
func TestGoldenPages(t *testing.T) {
	site := testSite(t, nil)
	base := "http://" + site.Composer.DisplayAddr()
	pages := map[string]string{
		"home.html":    "/",
		"shows.html":   "/shows",
		"weather.html": "/weather?city=tokyo",
		"story.html":   "/news/lynx-return-kielder-forest",
	}
	// Loopback ports differ per run; nothing else in a page should.
	ports := regexp.MustCompile(`127\.0\.0\.1:\d+`)
	for name, path := range pages {
		t.Run(name, func(t *testing.T) {
			// The first page learns every fragment; the second is composed
			// from the cache, whole, with every stylesheet in the head.
			if code, _, err := fetch(http.DefaultClient, base+path); err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v", path, code, err)
			}
			code, body, err := fetch(http.DefaultClient, base+path)
			if err != nil || code != 200 {
				t.Fatalf("GET %s: %d %v", path, code, err)
			}
			got := ports.ReplaceAllString(body, "127.0.0.1:PORT")
			file := filepath.Join("..", "..", "testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run with -update if the change is intended); first difference near:\n%s", path, file, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	return "want …" + strings.TrimSpace(a[from:min(len(a), i+80)]) + "…\n got …" + strings.TrimSpace(b[from:min(len(b), i+80)]) + "…"
}
