package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
)

// TestConfigAdminHosts: the config's admin.hosts are names the admin
// answers to; any other Host is refused.
func TestConfigAdminHosts(t *testing.T) {
	f := composertest.NewFragment(t, "a", `<p data-fragment="a">A</p>`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(`<main><!--@slot:a--></main>`), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "admin:\n  hosts: [tessera.example]\nfragments:\n  a: {url: \"" + f.URL + "\"}\npages:\n  - {path: /, title: T, layout: page.html}\n"
	c, err := app.StartComposer(app.ComposerOptions{ConfigYAML: []byte(yaml), ConfigDir: dir, Addr: "127.0.0.1:0", Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for _, tt := range []struct {
		host string
		want int
	}{
		{"tessera.example", 200},
		{"tessera.example:8080", 200},
		{"evil.example", 403},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+c.DisplayAddr()+"/_tessera/api/fragments", nil)
		req.Host = tt.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %s: %d, want %d", tt.host, resp.StatusCode, tt.want)
		}
	}
}
