package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
)

// compileErr compiles src and returns its problems, one per line.
func compileErr(t *testing.T, src string) string {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(src))
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
	if config.SessionCookie != "tessera_session" {
		t.Fatalf("SessionCookie = %q", config.SessionCookie)
	}
}

// lineOf is the 1-based line of the first line of src holding sub.
func lineOf(t *testing.T, src, sub string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the config", sub)
	return 0
}

// TestConfigReportsOnlyTheRootCause: one bad field of a fragment used by
// several slots is one problem; the slots naming it say nothing more.
func TestConfigReportsOnlyTheRootCause(t *testing.T) {
	src := strings.Replace(string(config.Default), "ttl: 60s", "ttl: 60s\n    timeout: \"3 seconds\"", 1)
	want := fmt.Sprintf(`t.yaml:%d: fragments.weather.timeout: "3 seconds" is not a duration (use e.g. 500ms, 30s, 5m)`, lineOf(t, src, "3 seconds"))
	if got := compileErr(t, src); got != want {
		t.Fatalf("errors:\n%s\nwant only:\n%s", got, want)
	}
	// A slot naming a fragment that is not declared at all is still one.
	src = strings.Replace(string(config.Default), "  shows:\n", "  showz:\n", 1)
	if got := compileErr(t, src); !strings.Contains(got, `pages[1].layout: slot "shows" names no declared fragment`) {
		t.Fatalf("an undeclared fragment's slot is not reported:\n%s", got)
	}
}

// TestDefaultsErrorsReportedOnce: a bad field in defaults is reported
// once, as defaults.FIELD with its line, not against every fragment.
func TestDefaultsErrorsReportedOnce(t *testing.T) {
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"timeout", "  timeout: 800ms", "  timeout: 800", `defaults.timeout: "800" is not a duration (use e.g. 500ms, 30s, 5m)`},
		{"sie", "  sie: 10m ", "  sie: -1m ", `defaults.sie: "-1m" must not be negative`},
		{"forward_headers", "  timeout: 800ms", "  timeout: 800ms\n  forward_headers: [Cookie]", `defaults.forward_headers[0]: "Cookie" cannot be forwarded: name the cookies in forward_cookies`},
		{"breaker", "  timeout: 800ms", "  timeout: 800ms\n  breaker: {failure_rate: 2}", `defaults.breaker.failure_rate: 2 must be over 0 and at most 1`},
		{"max_bytes", "  timeout: 800ms", "  timeout: 800ms\n  max_bytes: -1", `defaults.max_bytes: -1 must be between 1 and 67108864`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(string(config.Default), tt.from, tt.to, 1)
			if src == string(config.Default) {
				t.Fatalf("%q not in the config", tt.from)
			}
			line := lineOf(t, src, strings.TrimSpace(strings.Split(tt.to, "\n")[len(strings.Split(tt.to, "\n"))-1]))
			got := compileErr(t, src)
			if want := fmt.Sprintf("t.yaml:%d: %s", line, tt.want); !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
				t.Fatalf("errors:\n%s\nwant one:\n%s", got, want)
			}
		})
	}
}

// TestParamsCannotNameTheComposersOwn: primary, order and reserve on a
// marker are the composer's, so a fragment's params cannot list them (a
// nested marker would otherwise pass them to the fragment).
func TestParamsCannotNameTheComposersOwn(t *testing.T) {
	for _, k := range []string{"primary", "order", "reserve"} {
		src := "fragments:\n  a:\n    url: http://127.0.0.1:1/\n    params: {" + k + ": []}\npages:\n  - {path: /, layout: home}\n"
		want := `t.yaml:4: fragments.a.params.` + k + `: "` + k + `" cannot be a slot parameter`
		if got := compileErr(t, src); !strings.Contains(got, want) {
			t.Errorf("params.%s: errors\n%s\nwant %s", k, got, want)
		}
	}
}
