package shows

import "testing"

func TestSlugify(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Deadliest Coasts":         "deadliest-coasts",
		"  Cold Case: Arctic!! ":   "cold-case-arctic",
		"São Paulo Nights":         "sao-paulo-nights",
		"日本":                       "show",
		"---":                      "show",
		"Ocean's 11 -- the return": "ocean-s-11-the-return",
	}
	for in, want := range tests {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInitials(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Deadliest Coasts":            "DC",
		"The Last Lighthouse Keepers": "LL",
		"Secrets of the Silk Road":    "SS",
		"Volcano":                     "V",
		"éclair stories":              "ÉS",
		"!!!":                         "?",
		"24 Hours in A&E":             "2H",
	}
	for in, want := range tests {
		if got := initials(in); got != want {
			t.Errorf("initials(%q) = %q, want %q", in, got, want)
		}
	}
}
