package scaffold_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/internal/scaffold"
)

// fakeCheckout makes the skeleton of a Tessera checkout that Fragment
// accepts: a go.mod, the fragments/fragment folder and one built-in fragment.
func fakeCheckout(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"fragments/fragment", "fragments/headlines", "cmd/headlines", "cmd/tessera", "composer/config"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"go.mod":                       "module github.com/tessera-dev/tessera\n\ngo 1.26\n",
		"fragments/fragment/doc.go":    "package fragment\n",
		"fragments/headlines/doc.go":   "package headlines\n",
		"cmd/headlines/main.go":        "package main\n\nvar addr = fs.String(\"addr\", \":8081\", \"listen address\")\n",
		"composer/config/tessera.yaml": "listen: \":8080\"\nfragments:\n  headlines:\n    url: http://127.0.0.1:8081/\n  topbar:\n    url: 'http://127.0.0.1:8084/'\n",
		"cmd/tessera/main.go":          "package main\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// tree lists every file and folder under root with its contents, to show
// that nothing changed.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRefusedNamesWriteNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		why  string // part of the error message
	}{
		{"", "empty"},
		{"Picks", "lowercase"},
		{"TOP", "lowercase"},
		{"top picks", `spaces (e.g. "top-picks")`},
		{"Top_Picks", `use lowercase letters (e.g. "top-picks")`},
		{"top/picks", "path separator"},
		{"../picks", "path separator"},
		{`top\picks`, "path separator"},
		{"top.picks", "dots"},
		{".picks", "dots"},
		{"..", "dots"},
		{"1picks", "starting with a letter"},
		{"-picks", "starting with a letter"},
		{"picks-", "not ending with a dash"},
		{"top--picks", "single dashes"},
		{"top_picks", `lowercase letters, digits and single dashes, starting with a letter and not ending with a dash (e.g. "top-picks")`},
		{"pícks", "lowercase letters, digits and single dashes"},
		{strings.Repeat("a", 32), "longer than 31"},
		{"func", "Go keyword"},
		{"go", "Go keyword"},
		{"go-to", `"goto" is a Go keyword`},
		{"string", "predeclared"},
		{"len", "predeclared"},
		{"nil", "predeclared"},
		{"any", "predeclared"},
		{"ma-ke", `"make" is a predeclared`},
		{"fragment", "reserved"},
		{"composer", "reserved"},
		{"tessera", "reserved"},
		{"main", "reserved"},
		{"internal", "reserved"},
		{"testdata", "reserved"},
		{"headlines", "fragments/headlines already exists"},
		{"net", `clash with the imported package "net"`},
		{"goleak", `clash with the imported package "go.uber.org/goleak"`},
		{"cfg", "clash with an identifier"},
		{"client", "clash with an identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := fakeCheckout(t)
			before := tree(t, root)
			res, err := scaffold.Fragment(scaffold.Options{Name: tt.name, Dir: root})
			if err == nil {
				t.Fatalf("Fragment(%q) succeeded: %v", tt.name, res.Paths())
			}
			if !errors.Is(err, scaffold.ErrInvalidName) {
				t.Errorf("error %v does not wrap ErrInvalidName", err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not say %q", err, tt.why)
			}
			if diff := cmp.Diff(before, tree(t, root)); diff != "" {
				t.Errorf("tree changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestNameTakenByCommandOnly(t *testing.T) {
	t.Parallel()
	root := fakeCheckout(t)
	if err := os.MkdirAll(filepath.Join(root, "cmd", "deals"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	_, err := scaffold.Fragment(scaffold.Options{Name: "deals", Dir: root})
	if err == nil || !strings.Contains(err.Error(), "cmd/deals already exists") {
		t.Fatalf("Fragment: %v", err)
	}
	if diff := cmp.Diff(before, tree(t, root)); diff != "" {
		t.Errorf("tree changed (-before +after):\n%s", diff)
	}
}

func TestAcceptedNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "deals", "top-picks", "go-deals", "x2", "what-to-watch-now", strings.Repeat("a", 31)} {
		if err := scaffold.CheckName(name); err != nil {
			t.Errorf("CheckName(%q): %v", name, err)
		}
	}
	for name, pkg := range map[string]string{"deals": "deals", "top-picks": "toppicks", "a-b-c": "abc"} {
		if got := scaffold.PackageName(name); got != pkg {
			t.Errorf("PackageName(%q) = %q, want %q", name, got, pkg)
		}
	}
}

func TestBadOptionsWriteNothing(t *testing.T) {
	t.Parallel()
	root := fakeCheckout(t)
	notCheckout := t.TempDir()
	if err := os.WriteFile(filepath.Join(notCheckout, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts scaffold.Options
		why  string
	}{
		{"auth", scaffold.Options{Name: "deals", Dir: root, Auth: "basic"}, `auth "basic" is not one of none, bearer, hmac`},
		{"port", scaffold.Options{Name: "deals", Dir: root, Port: 70000}, "port 70000"},
		{"negative port", scaffold.Options{Name: "deals", Dir: root, Port: -1}, "port -1"},
		{"no go.mod", scaffold.Options{Name: "deals", Dir: t.TempDir()}, "not the root of a Tessera checkout (no go.mod)"},
		{"other module", scaffold.Options{Name: "deals", Dir: notCheckout}, `declares module "example.com/other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tree(t, tt.opts.Dir)
			_, err := scaffold.Fragment(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Fragment: %v, want an error saying %q", err, tt.why)
			}
			if diff := cmp.Diff(before, tree(t, tt.opts.Dir)); diff != "" {
				t.Errorf("tree changed (-before +after):\n%s", diff)
			}
		})
	}
}
