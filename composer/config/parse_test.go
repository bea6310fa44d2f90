package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
)

func TestErrorsHaveLineAndField(t *testing.T) {
	src := `fragments:
  weather:
    url: http://127.0.0.1:8082/
    timeout: 3 seconds
    vary: [planet]
  news:
    url: ftp://example
    auth:
      kind: kerberos
pages:
  - path: /
    layout: nope
`
	cfg, err := config.Parse("tessera.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Compile("tessera.yaml", []byte(src), t.TempDir(), func(string) string { return "" })
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	got := err.Error()
	for _, want := range []string{
		`tessera.yaml:4: fragments.weather.timeout: "3 seconds" is not a duration`,
		`tessera.yaml:5: fragments.weather.vary[0]: "planet" is not a declared input`,
		`tessera.yaml:7: fragments.news.url: "ftp://example" is not an http(s) URL`,
		`tessera.yaml:9: fragments.news.auth.kind: "kerberos" is not one of none, bearer, hmac`,
		`tessera.yaml:12: pages[0].layout:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q; got:\n%s", want, got)
		}
	}
}

func TestConfigRejectsUnknownField(t *testing.T) {
	_, err := config.Parse("t.yaml", []byte("fragments:\n  a:\n    url: http://x/\n    tll: 5s\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4") {
		t.Fatalf("err = %v, want an unknown-field error on line 4", err)
	}
}

func TestDefaultConfigCompiles(t *testing.T) {
	cfg, err := config.Parse("tessera.yaml", config.Default)
	if err != nil {
		t.Fatal(err)
	}
	site, err := cfg.Compile("tessera.yaml", config.Default, ".", func(string) string { return "s3cret" })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/shows", "/weather"} {
		if site.Pages[p] == nil {
			t.Errorf("page %s missing", p)
		}
	}
	if n := len(site.Pages["/"].Slots()); n != 4 {
		t.Errorf("home has %d slots, want 4 (top bar, headlines, shows, weather)", n)
	}
}

// FuzzConfig feeds arbitrary YAML through parsing and validation: it must
// give a config or errors, never panic.
func FuzzConfig(f *testing.F) {
	f.Add(config.Default)
	f.Add([]byte("fragments:\n  a:\n    url: http://x/\n    ttl: 5s\npages:\n  - path: /news/{story}\n    layout: home\n"))
	f.Add([]byte("fragments: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := config.Parse("f.yaml", src)
		if err != nil {
			return
		}
		_, _ = cfg.Compile("f.yaml", src, t.TempDir(), func(string) string { return "x" })
	})
}
