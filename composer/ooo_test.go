package composer_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/config"
)

// streamAlways makes the test page stream whatever its fragments' speed.
func streamAlways(src string) string {
	return strings.Replace(src, "layout: page.html\n", "layout: page.html\n    stream: always\n", 1)
}

// openPage starts a GET of path and returns a reader of its body.
func (e *env) openPage(path string, hdr ...string) *bufio.Reader {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	e.t.Cleanup(func() { _ = resp.Body.Close() })
	return bufio.NewReader(resp.Body)
}

// readUntil reads br until what it read contains s.
func readUntil(t *testing.T, br *bufio.Reader, got *strings.Builder, s string) {
	t.Helper()
	for !strings.Contains(got.String(), s) {
		chunk, err := br.ReadString('>')
		got.WriteString(chunk)
		if err != nil {
			t.Fatalf("stream ended before %q: %v (got %q)", s, err, got.String())
		}
	}
}

var (
	patchRE = regexp.MustCompile(`(?s)<template for="([^"]+)">(.*?)</template><script>\$tsp\(\)</script>`)
	defRE   = regexp.MustCompile(`<script>self\.\$tsp=[^<]*</script>`)
)

// applyPatches does to an out-of-order page what the browser does: each
// <template for> replaces its range, and the scripts go.
func applyPatches(t *testing.T, page string) string {
	t.Helper()
	for _, m := range patchRE.FindAllStringSubmatch(page, -1) {
		page = strings.Replace(page, m[0], "", 1)
		rng := regexp.MustCompile(`(?s)<\?start name="` + regexp.QuoteMeta(m[1]) + `">.*?<\?end>`)
		if !rng.MatchString(page) {
			t.Fatalf("patch for %s has no range in %s", m[1], page)
		}
		page = rng.ReplaceAllLiteralString(page, m[2])
	}
	return defRE.ReplaceAllString(page, "")
}

func TestArrivalOrderSendsFastSlotBeforeSlowOne(t *testing.T) {
	e := newEnv(t, map[string]string{"a": "ttl: 0s", "b": "timeout: 5s\nttl: 0s", "c": "ttl: 0s"}, streamAlways)
	_, inOrder := e.get("/") // nothing held: every slot is in by the time it is due
	e.b.Hold()
	br := e.openPage("/")
	var got strings.Builder
	// c is fast: its markup comes before b's, inline when it was in by
	// the time its place was due, else patched in after the footer.
	readUntil(t, br, &got, `C1</section>`)
	if !strings.Contains(got.String(), "<footer>FOOT</footer>") {
		readUntil(t, br, &got, "<footer>FOOT</footer>")
	}
	head := got.String()
	if strings.Contains(head, "B1") {
		t.Fatalf("held slot b written: %q", head)
	}
	if !strings.Contains(head, `<?start name="tessera-1"><div class="frag-pending" data-fragment-pending="b" aria-busy="true"></div><?end>`) {
		t.Fatalf("no place for b sent ahead of c: %q", head)
	}
	if !strings.Contains(head, "<footer>FOOT</footer>") {
		t.Fatalf("static parts after the held slot not sent: %q", head)
	}
	e.b.Release()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	full := head + string(rest)
	if !strings.HasSuffix(full, "</body></html>") {
		t.Fatalf("patches not before </body>: %s", full)
	}
	if applied := applyPatches(t, full); applied != applyPatches(t, inOrder) {
		t.Fatalf("patched page differs from the page in document order:\n%s\n%s", applied, inOrder)
	}
}

func TestDocumentOrderForCrawlersPrimaryAndSlotOrder(t *testing.T) {
	tests := []struct {
		name   string
		frag   map[string]string
		mutate func(string) string
		ua     string
	}{
		{"crawler", nil, func(s string) string { return s + "crawlers: [ExampleBot]\n" }, "Mozilla/5.0 (compatible; examplebot/2.1)"},
		{"default crawlers", nil, func(s string) string { return s }, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
		{"page order", nil, documentOrder, "Mozilla/5.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frag := map[string]string{"b": "timeout: 5s"}
			e := newEnv(t, frag, tt.mutate)
			e.b.Hold()
			br := e.openPage("/", "User-Agent", tt.ua)
			var got strings.Builder
			readUntil(t, br, &got, "A1")
			e.b.Release()
			rest, _ := io.ReadAll(br)
			full := got.String() + string(rest)
			if strings.Contains(full, "<?start") || strings.Contains(full, "<template") {
				t.Fatalf("page not in document order: %s", full)
			}
			if i, j := strings.Index(full, "B1"), strings.Index(full, "C1"); i < 0 || j < i {
				t.Fatalf("slots out of order: %s", full)
			}
		})
	}
}

func TestSlotMarkerOrderAndReserve(t *testing.T) {
	layout := `<!doctype html><html><body><main><!--@slot:a reserve=240px--><!--@slot:b order=document--><!--@slot:c--></main></body></html>`
	e := newEnvLayout(t, layout, map[string]string{"a": "timeout: 5s", "b": "timeout: 5s"})
	e.a.Hold()
	e.b.Hold()
	br := e.openPage("/")
	var got strings.Builder
	readUntil(t, br, &got, `<?start name="tessera-0"><div class="frag-pending" data-fragment-pending="a" aria-busy="true" style="min-height:240px"></div><?end>`)
	e.a.Release()
	e.b.Release()
	rest, _ := io.ReadAll(br)
	full := got.String() + string(rest)
	if i, j := strings.Index(full, "B1"), strings.Index(full, "C1"); i < 0 || j < i || strings.Contains(full, `name="tessera-1"`) || !strings.Contains(full, `<template for="tessera-0">`) {
		t.Fatalf("order=document slot not in place: %s", full)
	}
}

func TestDeliveryConfigRefusesBadValues(t *testing.T) {
	for _, tt := range []struct{ name, layout, page string }{
		{"slot order", `<!--@slot:a order=sideways-->`, ""},
		{"slot reserve", `<!--@slot:a reserve=10furlongs-->`, ""},
		{"page order", `<!--@slot:a-->`, "    order: sideways\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := "fragments:\n  a: {url: 'http://127.0.0.1:1/'}\npages:\n  - path: /\n    layout: p.html\n" + tt.page
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.html"), []byte(tt.layout), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Compile("t.yaml", []byte(src), dir, func(string) string { return "" }); err == nil {
				t.Fatalf("config accepted: %s %s", src, tt.layout)
			}
		})
	}
}

func TestOutOfOrderScriptsAreSmallAndHashed(t *testing.T) {
	h := composer.OutOfOrderScriptHashes()
	if len(h) != 2 || !strings.HasPrefix(h[0], "'sha256-") {
		t.Fatalf("hashes %v", h)
	}
}
