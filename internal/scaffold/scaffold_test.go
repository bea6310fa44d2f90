package scaffold_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/internal/scaffold"
)

func TestFragmentWritesWhatItPlanned(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{scaffold.AuthNone, scaffold.AuthBearer, scaffold.AuthHMAC} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			root := fakeCheckout(t)
			opts := scaffold.Options{Name: "top-picks", Dir: root, Auth: auth, Port: 8099}
			plan, err := scaffold.Plan(opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scaffold.Fragment(opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(plan, res); diff != "" {
				t.Errorf("Fragment differs from Plan (-plan +fragment):\n%s", diff)
			}
			want := []string{
				"fragments/top-picks/doc.go",
				"fragments/top-picks/top-picks.go",
				"fragments/top-picks/top-picks.css",
				"fragments/top-picks/view.templ",
				"fragments/top-picks/view_templ.go",
				"fragments/top-picks/top-picks_test.go",
				"cmd/top-picks/main.go",
				"cmd/top-picks/main_test.go",
			}
			if diff := cmp.Diff(want, res.Paths()); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			for _, f := range res.Files {
				got, err := os.ReadFile(filepath.Join(root, f.Path))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, f.Data) {
					t.Errorf("%s on disk differs from the plan", f.Path)
				}
			}
			if res.Package != "toppicks" || res.Slot != "<!--@slot:top-picks-->" {
				t.Errorf("package %q, slot %q", res.Package, res.Slot)
			}
			wantEnv := map[string]string{"none": "", "bearer": "TESSERA_TOP_PICKS_TOKEN", "hmac": "TESSERA_TOP_PICKS_SECRET"}[auth]
			if res.EnvVar != wantEnv {
				t.Errorf("EnvVar %q, want %q", res.EnvVar, wantEnv)
			}
			main := string(fileData(t, res, "cmd/top-picks/main.go"))
			for _, s := range []string{`":8099"`, `toppicks "github.com/tessera-dev/tessera/fragments/top-picks"`} {
				if !strings.Contains(main, s) {
					t.Errorf("main.go lacks %s", s)
				}
			}
			if wantEnv != "" && !strings.Contains(main, `const EnvSecret = "`+wantEnv+`"`) {
				t.Errorf("main.go does not read %s", wantEnv)
			}
			if !strings.Contains(string(fileData(t, res, "fragments/top-picks/view_templ.go")), "FileName: `fragments/top-picks/view.templ`") {
				t.Error("view_templ.go does not name its source as templ generate does from the root")
			}

			// A second run refuses and changes nothing.
			before := tree(t, root)
			if _, err := scaffold.Fragment(opts); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second Fragment: %v", err)
			}
			if diff := cmp.Diff(before, tree(t, root)); diff != "" {
				t.Errorf("tree changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestNameWithoutDashNeedsNoAlias(t *testing.T) {
	t.Parallel()
	res, err := scaffold.Plan(scaffold.Options{Name: "deals", Dir: fakeCheckout(t)})
	if err != nil {
		t.Fatal(err)
	}
	if main := string(fileData(t, res, "cmd/deals/main.go")); !strings.Contains(main, "\t\"github.com/tessera-dev/tessera/fragments/deals\"\n") {
		t.Errorf("main.go imports the package under another name:\n%s", main)
	}
}

// Not parallel: it replaces the package's file writer.
func TestFailedWriteRemovesEverything(t *testing.T) {
	plan, err := scaffold.Plan(scaffold.Options{Name: "deals", Dir: fakeCheckout(t)})
	if err != nil {
		t.Fatal(err)
	}
	for fail := range plan.Files {
		root := fakeCheckout(t)
		before := tree(t, root)
		n := 0
		restore := scaffold.SetWriteFile(func(name string, data []byte) error {
			if n == fail {
				return errors.New("disk full")
			}
			n++
			return os.WriteFile(name, data, 0o644)
		})
		_, err := scaffold.Fragment(scaffold.Options{Name: "deals", Dir: root})
		restore()
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("write %d failing: Fragment returned %v", fail, err)
		}
		if diff := cmp.Diff(before, tree(t, root)); diff != "" {
			t.Errorf("write %d failing: tree changed (-before +after):\n%s", fail, diff)
		}
	}
}

// The printed config entry is accepted by the composer as it is.
func TestConfigSnippetCompiles(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{scaffold.AuthNone, scaffold.AuthBearer, scaffold.AuthHMAC} {
		t.Run(auth, func(t *testing.T) {
			t.Parallel()
			res, err := scaffold.Plan(scaffold.Options{Name: "top-picks", Dir: fakeCheckout(t), Auth: auth})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "picks.html"), []byte("<main>"+res.Slot+"</main>"), 0o644); err != nil {
				t.Fatal(err)
			}
			src := "fragments:\n" + res.ConfigSnippet + "pages:\n  - path: /picks\n    layout: picks.html\n"
			cfg, err := config.Parse("tessera.yaml", []byte(src))
			if err != nil {
				t.Fatalf("parse:\n%s\n%v", src, err)
			}
			env := func(k string) string {
				if k == res.EnvVar {
					return "s3cret"
				}
				return ""
			}
			site, err := cfg.Compile("tessera.yaml", []byte(src), dir, env)
			if err != nil {
				t.Fatalf("compile:\n%s\n%v", src, err)
			}
			f := site.Fragments["top-picks"]
			if f == nil {
				t.Fatal("fragment not declared")
			}
			if f.URL != "http://127.0.0.1:8085/" || f.TTL != 30*time.Second || f.Timeout != 500*time.Millisecond || !bytes.Contains(f.Fallback, []byte("Top picks")) {
				t.Errorf("fragment %+v", f)
			}
			wantAuth := map[string]config.AuthKind{"none": config.AuthNone, "bearer": config.AuthBearer, "hmac": config.AuthHMAC}[auth]
			if f.Auth != wantAuth {
				t.Errorf("auth %v, want %v", f.Auth, wantAuth)
			}
			if site.Pages["/picks"] == nil {
				t.Error("page not compiled")
			}
		})
	}
}

func TestNextPort(t *testing.T) {
	t.Parallel()
	root := fakeCheckout(t)
	if got := scaffold.NextPort(root); got != 8085 {
		t.Errorf("NextPort = %d, want 8085 (after the config's 8084)", got)
	}
	res, err := scaffold.Fragment(scaffold.Options{Name: "deals", Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	if res.Port != 8085 {
		t.Errorf("port %d, want 8085", res.Port)
	}
	if got := scaffold.NextPort(root); got != 8086 {
		t.Errorf("NextPort after scaffolding = %d, want 8086", got)
	}
	if got := scaffold.NextPort(t.TempDir()); got != 8081 {
		t.Errorf("NextPort of an empty folder = %d, want 8081", got)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		usage  bool   // error wraps ErrUsage
		stdout string // part of stdout
		errMsg string // part of the error
	}{
		{name: "nothing", args: nil, usage: true, errMsg: "say what to create"},
		{name: "unknown kind", args: []string{"page", "x"}, usage: true, errMsg: `unknown kind "page"`},
		{name: "no name", args: []string{"fragment"}, usage: true, errMsg: "want one NAME, got 0"},
		{name: "two names", args: []string{"fragment", "a", "b"}, usage: true, errMsg: "got 2"},
		{name: "bad flag", args: []string{"fragment", "a", "--colour", "red"}, usage: true, errMsg: "colour"},
		{name: "bad port", args: []string{"fragment", "a", "--port", "http"}, usage: true, errMsg: "port"},
		{name: "help", args: []string{"fragment", "--help"}, stdout: "Usage: tessera new fragment NAME"},
		{name: "help alone", args: []string{"--help"}, stdout: "Usage: tessera new fragment NAME"},
		{name: "refused name", args: []string{"fragment", "Top"}, errMsg: `invalid fragment name "Top"`},
		{name: "refused auth", args: []string{"fragment", "deals", "--auth", "basic"}, errMsg: `auth "basic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := fakeCheckout(t)
			before := tree(t, root)
			var stdout, stderr bytes.Buffer
			args := tt.args
			if len(args) > 0 {
				args = append(args, "--dir", root)
			}
			err := scaffold.Run(context.Background(), args, &stdout, &stderr)
			if tt.errMsg == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.errMsg)) {
				t.Fatalf("Run: %v, want an error saying %q", err, tt.errMsg)
			}
			if got := errors.Is(err, scaffold.ErrUsage); got != tt.usage {
				t.Errorf("errors.Is(%v, ErrUsage) = %v", err, got)
			}
			if tt.usage && !strings.Contains(stderr.String(), "Usage:") {
				t.Errorf("no usage on stderr: %q", stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.stdout)
			}
			if diff := cmp.Diff(before, tree(t, root)); diff != "" {
				t.Errorf("tree changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRunReports(t *testing.T) {
	t.Parallel()
	root := fakeCheckout(t)
	var stdout, stderr bytes.Buffer
	// Flags may come before and after the name.
	err := scaffold.Run(context.Background(), []string{"fragment", "--auth", "bearer", "top-picks", "--port", "8085", "--dir", root}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v (stderr %s)", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`Created fragment "top-picks" (Go package toppicks, auth: a bearer token from TESSERA_TOP_PICKS_TOKEN)`,
		"  cmd/top-picks/main.go\n",
		"go test ./fragments/top-picks/ ./cmd/top-picks/",
		"export TESSERA_TOP_PICKS_TOKEN=",
		"go run ./cmd/top-picks   # serves on :8085",
		"  top-picks:\n    url: http://127.0.0.1:8085/\n",
		"auth: {kind: bearer, secret_env: TESSERA_TOP_PICKS_TOKEN}",
		"  <!--@slot:top-picks-->\n",
		"tessera check",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "top-picks", "main.go")); err != nil {
		t.Error(err)
	}
}

// fileData is the planned content of the file at path.
func fileData(t *testing.T, res scaffold.Result, path string) []byte {
	t.Helper()
	for _, f := range res.Files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no %s in %q", path, res.Paths())
	return nil
}
