package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/internal/protocol"
	"github.com/tessera-dev/tessera/internal/scaffold"
)

// TestOneNameGrammar: the composer's config, the fragment helper package,
// the settings store and the scaffolder accept and refuse the same names.
func TestOneNameGrammar(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"weather", true},
		{"top-picks", true},
		{"a1", true},
		{"my_frag", false},
		{"My", false},
		{"1abc", false},
		{"-a", false},
		{"a-", false},
		{"a--b", false},
		{"", false},
		{strings.Repeat("a", 31), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := protocol.ValidName(tt.name); got != tt.ok {
				t.Fatalf("protocol.ValidName = %v, want %v", got, tt.ok)
			}
			src := fmt.Sprintf("fragments:\n  %q: {url: \"http://127.0.0.1:1/\"}\npages:\n  - {path: /, layout: home}\n", tt.name)
			cfg, err := config.Parse("t.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = cfg.Compile("t.yaml", []byte(src), t.TempDir(), func(string) string { return "" })
			if nameRefused := err != nil && strings.Contains(err.Error(), "fragment name"); nameRefused == tt.ok {
				t.Errorf("composer config: %v", err)
			}
			_, err = fragment.New(fragment.Config{Name: tt.name, Version: "1.0.0"}, nil, nil)
			if nameRefused := err != nil && strings.Contains(err.Error(), "name"); nameRefused == tt.ok {
				t.Errorf("fragment.New: %v", err)
			}
			if err := settings.Validate(tt.name, settings.Override{}); (err == nil) != tt.ok {
				t.Errorf("settings.Validate: %v", err)
			}
			if err := scaffold.CheckName(tt.name); (err == nil) != tt.ok && !errors.Is(err, scaffold.ErrInvalidName) {
				t.Errorf("scaffold.CheckName: %v", err)
			} else if (err == nil) != tt.ok {
				t.Errorf("scaffold.CheckName: %v", err)
			}
		})
	}
}
