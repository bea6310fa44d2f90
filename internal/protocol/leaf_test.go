package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries: the protocol package is a leaf, the composer does
// not link a fragment's packages, and a fragment service does not link the
// composer.
func TestPackageBoundaries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/tessera-dev/tessera/"
	for _, tt := range []struct {
		pkg    string
		denied []string
	}{
		{mod + "internal/protocol", []string{mod}},
		{mod + "composer", []string{mod + "fragments/"}},
		{mod + "cmd/shows", []string{mod + "composer\n", mod + "composer/rediscache"}},
		{mod + "cmd/weather", []string{mod + "composer\n"}},
		{mod + "composer/settings", []string{mod + "composer\n"}},
	} {
		out, err := exec.Command("go", "list", "-deps", tt.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", tt.pkg, err)
		}
		for _, dep := range strings.SplitAfter(string(out), "\n") {
			for _, d := range tt.denied {
				if dep != tt.pkg+"\n" && strings.HasPrefix(dep, d) || dep == d {
					t.Errorf("%s links %s", tt.pkg, strings.TrimSpace(dep))
				}
			}
		}
	}
}
