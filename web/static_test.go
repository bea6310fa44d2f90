package web_test

import (
	"bytes"
	"encoding/xml"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goccy/go-yaml"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/web"
)

func TestStaticFS(t *testing.T) {
	t.Parallel()
	if err := fstest.TestFS(web.Static, "css/site.css", "favicon.svg", "img/logo.svg", "img/hero-bg.svg"); err != nil {
		t.Fatal(err)
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want string
	}{
		{"css/site.css", "[data-slot]"},
		{"css/site.css", ".frag-fallback"},
		{"css/site.css", ".frag-empty"},
		{"css/site.css", ".frag-fallback-bar__inner"},
		{"css/site.css", ".frag-fallback-ticker__label"},
		{"css/site.css", ".frag-fallback-mini"},
		{"css/site.css", ":focus-visible"},
		{"favicon.svg", "<svg"},
		{"img/logo.svg", "Tessera"},
		{"img/hero-bg.svg", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.want, func(t *testing.T) {
			t.Parallel()
			b, err := fs.ReadFile(web.Static, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tt.want)) {
				t.Errorf("%s does not contain %q", tt.path, tt.want)
			}
		})
	}
}

// TestSVGWellFormed guards the SVGs, which browsers refuse to draw at all
// when the XML is broken.
func TestSVGWellFormed(t *testing.T) {
	t.Parallel()
	err := fs.WalkDir(web.Static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".svg" {
			return err
		}
		b, err := fs.ReadFile(web.Static, p)
		if err != nil {
			return err
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		var root struct {
			XMLName xml.Name
		}
		if err := dec.Decode(&root); err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
			t.Errorf("%s: root is %v, want svg in the SVG namespace", p, root.XMLName)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var cssURL = regexp.MustCompile(`url\(\s*["']?([^"')]+)["']?\s*\)`)

// TestSiteCSS checks that site.css is balanced and that every url() in it
// resolves inside web.Static.
func TestSiteCSS(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(web.Static, "css/site.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	if o, c := strings.Count(css, "{"), strings.Count(css, "}"); o != c {
		t.Errorf("site.css has %d { and %d }", o, c)
	}
	if o, c := strings.Count(css, "/*"), strings.Count(css, "*/"); o != c {
		t.Errorf("site.css has %d /* and %d */", o, c)
	}
	for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
		p := path.Join("css", m[1])
		if _, err := fs.Stat(web.Static, p); err != nil {
			t.Errorf("site.css refers to %s: %v", m[1], err)
		}
	}
	for _, color := range []string{"#0b0d12", "#151923", "#f3f5f9", "#9aa3b2", "#2175ff"} {
		if !strings.Contains(css, color) {
			t.Errorf("site.css lacks palette colour %s", color)
		}
	}
}

func TestStaticFilesCarryTheBuildTime(t *testing.T) {
	t.Parallel()
	fi, err := fs.Stat(web.Static, "css/site.css")
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(web.BuildTime) || web.BuildTime.Year() < 2000 {
		t.Errorf("site.css dated %v, build time %v; want a real build time", fi.ModTime(), web.BuildTime)
	}
}

var (
	classAttr = regexp.MustCompile(`class="([^"]*)"`)
	// fragmentClass is a class of a built-in fragment's own markup, styled
	// by that fragment's stylesheet.
	fragmentClass = regexp.MustCompile(`^frag-(headlines|weather|shows|topbar)([_-]|$)`)
)

// TestFallbacksAreStyledBySite checks that every class the built-in
// config's fallbacks use is styled in site.css (itself, or its __elements)
// and none is a fragment's own: a fragment that is down brings no stylesheet, so its fallback
// cannot rely on it. site.css in turn styles no fragment's markup.
func TestFallbacksAreStyledBySite(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Fragments map[string]struct {
			Fallback  string            `yaml:"fallback"`
			Fallbacks map[string]string `yaml:"fallbacks"`
		} `yaml:"fragments"`
	}
	if err := yaml.Unmarshal(config.Default, &cfg); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(web.Static, "css/site.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	n := 0
	for name, f := range cfg.Fragments {
		markup := map[string]string{"fallback": f.Fallback}
		for view, m := range f.Fallbacks {
			markup["fallbacks."+view] = m
		}
		for field, m := range markup {
			for _, attr := range classAttr.FindAllStringSubmatch(m, -1) {
				for _, class := range strings.Fields(attr[1]) {
					n++
					if fragmentClass.MatchString(class) {
						t.Errorf("%s.%s uses %q, a class of a fragment's own stylesheet", name, field, class)
					}
					if !regexp.MustCompile(`\.` + regexp.QuoteMeta(class) + `(__|[^A-Za-z0-9_-])`).MatchString(css) {
						t.Errorf("%s.%s uses %q, which site.css does not style", name, field, class)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the built-in config's fallbacks use no class")
	}
	if m := regexp.MustCompile(`\.frag-(headlines|weather|shows|topbar)[^A-Za-z0-9]`).FindString(css); m != "" {
		t.Errorf("site.css styles a fragment's own markup (%q): that belongs in the fragment's stylesheet", m)
	}
	if _, err := fs.Stat(web.Static, "css/fragments.css"); err == nil {
		t.Error("css/fragments.css is back: each fragment serves its own stylesheet")
	}
}
