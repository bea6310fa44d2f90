package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// Rename, as editors do, so readers never see a half-written file.
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// scriptless is the User-Agent of a client that runs no script, such as a
// crawler: it gets a page's slots in document order, the bytes a parser
// sees as the page.
const scriptless = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

func fetch(client *http.Client, url string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", scriptless)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestHotReloadUnderLoad(t *testing.T) {
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	b := composertest.NewFragment(t, "b", `<section data-fragment="b">B</section>`)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "one.html"), "<html><body><!--@slot:a--></body></html>")
	writeFile(t, filepath.Join(dir, "two.html"), "<html><body><!--@slot:a--><!--@slot:b--></body></html>")
	base := fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  a:\n    url: %s\n    ttl: 1m\n", a.URL)
	cfgPath := filepath.Join(dir, "tessera.yaml")
	writeFile(t, cfgPath, base+"pages:\n  - path: /\n    layout: one.html\n")

	c, err := app.StartComposer(app.ComposerOptions{ConfigPath: cfgPath, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	url := "http://" + c.Addr()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	stop := make(chan struct{})
	var pages, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := fetch(client, url+"/")
				pages.Add(1)
				if err != nil || code != 200 || !strings.Contains(body, ">A<") {
					failed.Add(1)
				}
			}
		}()
	}

	// A valid change: a new fragment and a new page, no restart.
	writeFile(t, cfgPath, base+fmt.Sprintf("  b:\n    url: %s\n", b.URL)+
		"pages:\n  - path: /\n    layout: one.html\n  - path: /two\n    layout: two.html\n")
	waitFor(t, 3*time.Second, func() bool {
		code, body, _ := fetch(client, url+"/two")
		return code == 200 && strings.Contains(body, ">B<")
	})

	// An invalid change is refused; the config in force stays.
	writeFile(t, cfgPath, base+"  b:\n    url: not a url\n    timeout: 3 seconds\npages: []\n")
	time.Sleep(2 * reloadWait)
	if code, body, _ := fetch(client, url+"/two"); code != 200 || !strings.Contains(body, ">B<") {
		t.Fatalf("invalid config replaced the valid one: /two = %d", code)
	}

	// Back to a valid config; then a layout change alone is picked up too.
	writeFile(t, cfgPath, base+fmt.Sprintf("  b:\n    url: %s\n", b.URL)+
		"pages:\n  - path: /\n    layout: one.html\n  - path: /two\n    layout: two.html\n")
	time.Sleep(2 * reloadWait)
	writeFile(t, filepath.Join(dir, "one.html"), "<html><body><h1>v2</h1><!--@slot:a--></body></html>")
	waitFor(t, 3*time.Second, func() bool {
		_, body, _ := fetch(client, url+"/")
		return strings.Contains(body, "<h1>v2</h1>")
	})
	close(stop)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d requests failed during reloads", f, pages.Load())
	}
	if pages.Load() < 10 {
		t.Fatalf("only %d requests ran; the load did not overlap the reloads", pages.Load())
	}
}

const reloadWait = 300 * time.Millisecond

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
