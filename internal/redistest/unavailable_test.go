package redistest_test

import (
	"testing"

	"github.com/tessera-dev/tessera/internal/redistest"
)

// recorder is a testing.TB that records Skip and Fatal instead of ending the
// test.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(args ...any)      { r.skipped = args[0].(string) }
func (r *recorder) Fatal(args ...any)     { r.fatal = args[0].(string) }
func (r *recorder) Skipf(string, ...any)  { panic("unexpected Skipf") }
func (r *recorder) Fatalf(string, ...any) { panic("unexpected Fatalf") }

func TestUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		ci         string
		wantSkip   bool
		wantFailed bool
	}{
		{name: "local", ci: "", wantSkip: true},
		{name: "ci false", ci: "false", wantSkip: true},
		{name: "ci true", ci: "true", wantFailed: true},
		{name: "ci 1", ci: "1", wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			redistest.Unavailable(r, "redis-server not installed")
			if got := r.skipped != ""; got != tt.wantSkip {
				t.Errorf("skipped = %v (%q), want %v", got, r.skipped, tt.wantSkip)
			}
			if got := r.fatal != ""; got != tt.wantFailed {
				t.Errorf("failed = %v (%q), want %v", got, r.fatal, tt.wantFailed)
			}
		})
	}
}

func TestStartWithoutBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	if s := redistest.Start(r); s != nil {
		t.Fatalf("Start without redis-server returned %v, want nil", s)
	}
	if r.skipped == "" {
		t.Fatal("Start without redis-server did not skip")
	}
}
