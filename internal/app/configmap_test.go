package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
)

// kubeletWrite updates a directory the way the kubelet updates a mounted
// ConfigMap: the files go into a fresh timestamped directory, and the
// ..data symlink is swapped to it with a rename; tessera.yaml itself is a
// symlink to ..data/tessera.yaml and never changes.
func kubeletWrite(t *testing.T, dir, gen string, files map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_"+gen)
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		writeFile(t, filepath.Join(ts, name), body)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The Helm chart mounts the config from a ConfigMap as a directory; an
// edit of the ConfigMap reaches running composers.
func TestHotReloadFromConfigMapMount(t *testing.T) {
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	b := composertest.NewFragment(t, "b", `<section data-fragment="b">B</section>`)
	dir := t.TempDir()
	cfg := func(frag string) map[string]string {
		return map[string]string{
			"tessera.yaml": fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  a:\n    url: %s\n  b:\n    url: %s\npages:\n  - path: /\n    layout: page.html\n", a.URL, b.URL),
			"page.html":    "<html><body><!--@slot:" + frag + "--></body></html>",
		}
	}
	kubeletWrite(t, dir, "1", cfg("a"))
	c, err := app.StartComposer(app.ComposerOptions{ConfigPath: filepath.Join(dir, "tessera.yaml"), Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	url := "http://" + c.Addr() + "/"
	if _, body, _ := fetch(http.DefaultClient, url); !strings.Contains(body, ">A<") {
		t.Fatalf("first page: %s", body)
	}
	kubeletWrite(t, dir, "2", cfg("b"))
	waitFor(t, 10*time.Second, func() bool {
		_, body, _ := fetch(http.DefaultClient, url)
		return strings.Contains(body, ">B<")
	})
}
