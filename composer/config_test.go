package composer_test

import (
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer"
)

// compileErr compiles src and returns its problems, one per line.
func compileErr(t *testing.T, src string) string {
	t.Helper()
	cfg, err := composer.ParseConfig("t.yaml", []byte(src))
	if err != nil {
		return err.Error()
	}
	_, err = cfg.Compile("t.yaml", []byte(src), t.TempDir(), func(string) string { return "x" })
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestForwardHeadersRefusesCredentialsAndHopByHop(t *testing.T) {
	for _, tt := range []struct {
		header, want string
	}{
		{"Cookie", `t.yaml:4: fragments.a.forward_headers[0]: "Cookie" cannot be forwarded: name the cookies in forward_cookies`},
		{"cookie", `"cookie" cannot be forwarded: name the cookies in forward_cookies`},
		{"Authorization", `"Authorization" cannot be forwarded: the composer authenticates itself with auth`},
		{"Proxy-Authorization", `"Proxy-Authorization" cannot be forwarded`},
		{"Host", `"Host" cannot be forwarded: the fragment's url sets it`},
		{"Connection", `"Connection" cannot be forwarded: it is hop-by-hop`},
		{"Transfer-Encoding", `"Transfer-Encoding" cannot be forwarded: it is hop-by-hop`},
		{"Upgrade", `"Upgrade" cannot be forwarded`},
	} {
		t.Run(tt.header, func(t *testing.T) {
			src := "fragments:\n  a:\n    url: http://127.0.0.1:1/\n    forward_headers: [" + tt.header + "]\npages:\n  - {path: /, layout: home}\n"
			got := compileErr(t, src)
			if !strings.Contains(got, tt.want) {
				t.Fatalf("errors lack %q; got:\n%s", tt.want, got)
			}
		})
	}
	if got := compileErr(t, "fragments:\n  a:\n    url: http://127.0.0.1:1/\n    forward_headers: [Accept-Language]\npages:\n  - {path: /, layout: page.html}\n"); strings.Contains(got, "forward_headers") {
		t.Fatalf("an ordinary header was refused: %s", got)
	}
}

func TestForwardCookiesRefusesTheSessionCookie(t *testing.T) {
	src := "fragments:\n  a:\n    url: http://127.0.0.1:1/\n    forward_cookies: [consent, tessera_session]\npages:\n  - {path: /, layout: home}\n"
	want := `t.yaml:4: fragments.a.forward_cookies[1]: "tessera_session" is the composer's own admin session and is never forwarded`
	if got := compileErr(t, src); !strings.Contains(got, want) {
		t.Fatalf("errors lack %q; got:\n%s", want, got)
	}
	if composer.SessionCookie != "tessera_session" {
		t.Fatalf("SessionCookie = %q", composer.SessionCookie)
	}
}
