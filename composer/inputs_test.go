package composer_test

import (
	"strings"
	"testing"
)

// TestPathParameterAllowlist: a {story} declared with values answers only
// for those; any other value is a 404 that never reaches the fragment,
// default or not.
func TestPathParameterAllowlist(t *testing.T) {
	for _, decl := range []string{"{values: [lynx-return, otters]}", "{default: otters, values: [lynx-return, otters]}"} {
		t.Run(decl, func(t *testing.T) {
			e := newEnv(t, map[string]string{"a": "vary: [story]"}, func(src string) string {
				src = strings.Replace(src, "inputs:\n", "inputs:\n  story: "+decl+"\n", 1)
				return strings.Replace(src, "pages:\n", "pages:\n  - path: /news/{story}\n    layout: page.html\n", 1)
			})
			if resp, _ := e.get("/news/lynx-return"); resp.StatusCode != 200 {
				t.Fatalf("allowed story: status %d", resp.StatusCode)
			}
			if q := e.a.LastQuery(); q != "story=lynx-return" {
				t.Fatalf("fragment a got %q, want story=lynx-return", q)
			}
			calls := e.a.Calls()
			for _, path := range []string{"/news/not-in-allowlist", "/news/Otters", "/news/otters2"} {
				if resp, _ := e.get(path); resp.StatusCode != 404 {
					t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
				}
			}
			if n := e.a.Calls() - calls; n != 0 {
				t.Fatalf("a story outside the allowlist reached the fragment %d times", n)
			}
		})
	}
}
