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
