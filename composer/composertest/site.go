package composertest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
)

// Site compiles a composer config for a test: the layouts (file name →
// HTML) are written to a temporary directory the config's layout paths are
// read from, and every secret_env variable NAME reads "env-secret-NAME".
// It fails the test on any config error.
func Site(t testing.TB, yaml string, layouts map[string]string) *config.Site {
	t.Helper()
	dir := t.TempDir()
	names := make([]string, 0, len(layouts))
	for name := range layouts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(layouts[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, yaml)
	}
	site, err := cfg.Compile("test.yaml", []byte(yaml), dir, func(k string) string { return "env-secret-" + k })
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, yaml)
	}
	return site
}
