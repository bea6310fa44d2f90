package app

import (
	"slices"
	"testing"
)

func TestAdminHosts(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvAdminHosts {
				return v
			}
			return ""
		}
	}
	for _, tt := range []struct {
		env, listen string
		want        []string
	}{
		{"", ":8080", nil},
		{"", "0.0.0.0:8080", nil},
		{"", "composer.internal:8080", []string{"composer.internal:8080"}},
		{" tessera.example , ops.example:9443,,", "127.0.0.1:8080", []string{"tessera.example", "ops.example:9443"}},
	} {
		if got := AdminHosts(env(tt.env), tt.listen); !slices.Equal(got, tt.want) {
			t.Errorf("AdminHosts(%q, %q) = %q; want %q", tt.env, tt.listen, got, tt.want)
		}
	}
}
