package browsertest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending the
// test.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()               {}
func (r *recorder) Cleanup(func())        { panic("unexpected Cleanup") }
func (r *recorder) Skip(args ...any)      { r.skipped = args[0].(string) }
func (r *recorder) Fatal(args ...any)     { r.fatal = args[0].(string) }
func (r *recorder) Fatalf(string, ...any) { panic("unexpected Fatalf") }
func (r *recorder) Skipf(string, ...any)  { panic("unexpected Skipf") }
func (r *recorder) Errorf(string, ...any) { panic("unexpected Errorf") }

func TestNewWithoutChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("New skips in -short mode before it looks for the binary")
	}
	missing := filepath.Join(t.TempDir(), "no-such-chromium")
	tests := []struct {
		name     string
		ci       string
		wantSkip bool
	}{
		{name: "local", ci: "", wantSkip: true},
		{name: "ci", ci: "true", wantSkip: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHROMIUM", missing)
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			if b := browsertest.New(r); b != nil {
				t.Fatal("New without a browser returned a Browser")
			}
			kind, msg := "fatal", r.fatal
			if tt.wantSkip {
				kind, msg = "skip", r.skipped
			}
			if !strings.Contains(msg, "chromium not installed: apt-get install chromium") {
				t.Errorf("skipped = %q, fatal = %q; want the install hint in the %s message", r.skipped, r.fatal, kind)
			}
		})
	}
}
