package scaffold_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tessera-dev/tessera/internal/scaffold"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if module.dir != "" {
		_ = os.RemoveAll(module.dir)
	}
	os.Exit(code)
}

// scaffolded is a copy of the module with one fragment scaffolded into it
// and its command built: made once, shared by the tests that need the go
// command.
type scaffolded struct {
	dir string // the copy's root
	res scaffold.Result
	bin string // the built command
}

var (
	module     scaffolded
	moduleErr  error
	moduleOnce sync.Once
)

// The fragment the module tests scaffold: a dashed name, so the package
// identifier differs from it, and the auth kind with the most moving parts.
const (
	e2eName = "top-picks"
	e2eAuth = scaffold.AuthHMAC
)

// scaffoldedModule returns the shared scaffolded module, making it on first
// use. It skips under -short and when there is no go command.
func scaffoldedModule(t *testing.T) *scaffolded {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and tests a scaffolded service with the go command; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	moduleOnce.Do(func() { moduleErr = makeModule(&module) })
	if moduleErr != nil {
		t.Fatal(moduleErr)
	}
	return &module
}

// makeModule copies go.mod, go.sum, fragments/fragment and the
// internal/protocol it is built on (all the scaffolded code imports from
// this module) into a temporary directory,
// scaffolds a fragment there and builds its command.
func makeModule(m *scaffolded) error {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	if m.dir, err = os.MkdirTemp("", "tessera-scaffold-"); err != nil {
		return err
	}
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(repo, name), filepath.Join(m.dir, name)); err != nil {
			return err
		}
	}
	for _, src := range []string{filepath.Join(repo, "fragments", "fragment"), filepath.Join(repo, "internal", "protocol")} {
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repo, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(m.dir, rel), 0o755)
			}
			return copyFile(p, filepath.Join(m.dir, rel))
		})
		if err != nil {
			return err
		}
	}
	if m.res, err = scaffold.Fragment(scaffold.Options{Name: e2eName, Dir: m.dir, Auth: e2eAuth}); err != nil {
		return err
	}
	m.bin = filepath.Join(m.dir, "bin", e2eName)
	if _, err := goCommand(m.dir, "build", "-o", m.bin, "./cmd/"+e2eName); err != nil {
		return err
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// goCommand runs the go command in dir, off any workspace and without
// changing go.mod, and returns its standard output.
func goCommand(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

func TestScaffoldedServiceBuildsAndPasses(t *testing.T) {
	m := scaffoldedModule(t)
	t.Parallel()
	pkgs := []string{"./fragments/" + e2eName + "/", "./cmd/" + e2eName + "/"}
	if _, err := goCommand(m.dir, append([]string{"vet"}, pkgs...)...); err != nil {
		t.Fatal(err)
	}
	out, err := goCommand(m.dir, append([]string{"test", "-race", "-count=1", "-v"}, pkgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []string{"TestSnippet", "TestStylesheet", "TestHealthz", "TestAuth", "TestNewNeedsSecret", "TestRunStops", "TestRunNeedsSecret"} {
		if !bytes.Contains(out, []byte("--- PASS: "+test+" ")) {
			t.Errorf("%s did not run and pass:\n%s", test, out)
		}
	}

	// CI regenerates every templ file from the root and fails on a diff.
	viewGo := filepath.Join(m.dir, "fragments", e2eName, "view_templ.go")
	if _, err := goCommand(m.dir, "tool", "templ", "generate"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(viewGo)
	if err != nil {
		t.Fatal(err)
	}
	if want := fileData(t, m.res, "fragments/"+e2eName+"/view_templ.go"); !bytes.Equal(got, want) {
		t.Errorf("go tool templ generate changed view_templ.go:\n--- scaffolded\n%s\n--- generated\n%s", want, got)
	}
	view := filepath.Join("fragments", e2eName, "view.templ")
	formatted, err := goCommand(m.dir, "tool", "templ", "fmt", "-stdout", view)
	if err != nil {
		t.Fatal(err)
	}
	if want := fileData(t, m.res, "fragments/"+e2eName+"/view.templ"); !bytes.Equal(formatted, want) {
		t.Errorf("go tool templ fmt changes view.templ:\n--- scaffolded\n%s\n--- formatted\n%s", want, formatted)
	}
}

// The line count the walkthrough quotes: non-blank, non-comment lines of
// NAME.go, main.go and view.templ, for a service with bearer auth.
const docLines = 69

func TestWalkthroughLineCount(t *testing.T) {
	t.Parallel()
	res, err := scaffold.Plan(scaffold.Options{Name: e2eName, Dir: fakeCheckout(t), Auth: scaffold.AuthBearer})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range res.Files {
		switch filepath.Base(f.Path) {
		case e2eName + ".go", "main.go", "view.templ":
			n += codeLines(f.Data)
		}
	}
	if n != docLines {
		t.Errorf("the scaffolded service has %d lines of code; docs/adding-a-fragment.md and docLines say %d", n, docLines)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "adding-a-fragment.md"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatal("docs/adding-a-fragment.md is missing")
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d lines", docLines); !bytes.Contains(doc, []byte(want)) {
		t.Errorf("docs/adding-a-fragment.md does not say %q", want)
	}
}

func codeLines(src []byte) int {
	n := 0
	for line := range strings.SplitSeq(string(src), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "//") {
			n++
		}
	}
	return n
}
