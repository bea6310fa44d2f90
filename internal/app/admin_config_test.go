package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

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
		if got := adminStatus(t, c.DisplayAddr(), tt.host); got != tt.want {
			t.Errorf("Host %s: %d, want %d", tt.host, got, tt.want)
		}
	}
}

// adminStatus is the status of an admin API request to addr naming host.
func adminStatus(t *testing.T, addr, host string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/_tessera/api/fragments", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReloadChangesAdminHosts: a reloaded config's admin.hosts are the
// names the admin answers to from then on; a name taken out is refused.
func TestReloadChangesAdminHosts(t *testing.T) {
	f := composertest.NewFragment(t, "a", `<p data-fragment="a">A</p>`)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "page.html"), `<main><!--@slot:a--></main>`)
	cfg := func(host string) string {
		return "listen: 127.0.0.1:0\nadmin:\n  hosts: [" + host + "]\nfragments:\n  a: {url: \"" + f.URL + "\"}\npages:\n  - {path: /, title: T, layout: page.html}\n"
	}
	cfgPath := filepath.Join(dir, "tessera.yaml")
	writeFile(t, cfgPath, cfg("old.example"))
	c, err := app.StartComposer(app.ComposerOptions{ConfigPath: cfgPath, Watch: true, Env: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	status := func(host string) int { return adminStatus(t, c.Addr(), host) }
	if o, n := status("old.example"), status("new.example"); o != 200 || n != 403 {
		t.Fatalf("before the reload: old.example %d, new.example %d; want 200, 403", o, n)
	}
	writeFile(t, cfgPath, cfg("new.example"))
	waitFor(t, 5*time.Second, func() bool { return status("new.example") == 200 })
	if o := status("old.example"); o != 403 {
		t.Fatalf("after the reload: old.example %d, want 403", o)
	}
}
