package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/internal/cli"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp compresses responses on a pool of stackless workers
		// that live for the process.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp/stackless.funcWorker"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.init.func1"),
		goleak.IgnoreAnyFunction("github.com/maypok86/otter/v2.(*cache[...]).periodicCleanUp"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	)
}

const token = "cli-test-token"

// startComposer serves a composer with the admin API on a loopback port
// and returns its URL.
func startComposer(t *testing.T, tok string) (*composer.Composer, string) {
	t.Helper()
	h := composertest.NewFragment(t, "headlines", `<p>H</p>`)
	w := composertest.NewFragment(t, "weather", `<p>W</p>`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(`<main><!--@slot:headlines--><!--@slot:weather--></main>`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`defaults: {timeout: 500ms, sie: 10m}
fragments:
  headlines: {url: %q, ttl: 30s, swr: 30s}
  weather: {url: %q, auth: {kind: bearer, secret_env: W}}
pages:
  - {path: /, layout: page.html}
`, h.URL, w.URL)
	cfg, err := config.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	site, err := cfg.Compile("test.yaml", []byte(src), dir, func(string) string { return "x" })
	if err != nil {
		t.Fatal(err)
	}
	cache, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := composer.New(composer.Options{Site: site, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	store := settings.NewMemory(settings.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { defer close(watching); store.Watch(ctx, comp.SetTuning) }()
	ah, err := admin.New(admin.Options{Composer: comp, Settings: store, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := front.NewServer(front.Handler(front.Options{Composer: comp, Admin: ah}), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		_ = ln.Close() // Shutdown closes only a listener Serve has already taken up
		<-done
		cancel()
		<-watching
		_ = comp.Close()
		_ = cache.Close()
	})
	return comp, "http://" + ln.Addr().String()
}

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func run(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), args, &out, &errOut, getenv)
	return out.String(), errOut.String(), err
}

// table splits a printed table into rows of fields.
func table(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

func TestTTLCommands(t *testing.T) {
	t.Parallel()
	comp, base := startComposer(t, token)
	env := envOf("TESSERA_URL", base, "TESSERA_ADMIN_TOKEN", token)

	out, _, err := run(t, env, "ttl", "list")
	if err != nil {
		t.Fatalf("ttl list: %v", err)
	}
	want := [][]string{
		{"NAME", "TTL", "SWR", "SIE", "SOURCE", "HITS", "MISSES", "STALE", "ERRORS"},
		{"headlines", "30s", "30s", "10m", "config", "0", "0", "0", "0"},
		{"weather", "-", "-", "10m", "fragment", "0", "0", "0", "0"},
	}
	if diff := cmp.Diff(want, table(out)); diff != "" {
		t.Errorf("ttl list (-want +got):\n%s\n%s", diff, out)
	}
	// Columns are aligned.
	lines := strings.Split(out, "\n")
	if strings.Index(lines[0], "SOURCE") != strings.Index(lines[1], "config") {
		t.Errorf("columns not aligned:\n%s", out)
	}

	// Flags may come before or after the arguments.
	out, _, err = run(t, env, "ttl", "set", "weather", "45s", "--sie", "1h")
	if err != nil {
		t.Fatalf("ttl set: %v", err)
	}
	if diff := cmp.Diff([][]string{want[0], {"weather", "45s", "-", "1h", "override", "0", "0", "0", "0"}}, table(out)); diff != "" {
		t.Errorf("ttl set output (-want +got):\n%s", diff)
	}
	if o := comp.Tuning().Overrides["weather"]; o.TTL == nil || *o.TTL != 45*time.Second || o.SIE == nil || *o.SIE != time.Hour {
		t.Errorf("composer tuning after ttl set: %+v", o)
	}
	if _, _, err = run(t, env, "ttl", "set", "--swr=2m", "weather", "40s"); err != nil {
		t.Fatalf("ttl set with a leading flag: %v", err)
	}
	if o := comp.Tuning().Overrides["weather"]; *o.TTL != 40*time.Second || *o.SWR != 2*time.Minute || *o.SIE != time.Hour {
		t.Errorf("composer tuning after the second ttl set: %+v", o)
	}

	out, _, err = run(t, env, "ttl", "list", "--json")
	if err != nil || !strings.Contains(out, `"ttl_source": "override"`) {
		t.Errorf("ttl list --json: %v\n%s", err, out)
	}

	out, _, err = run(t, env, "ttl", "clear", "weather")
	if err != nil {
		t.Fatalf("ttl clear: %v", err)
	}
	if rows := table(out); len(rows) != 2 || rows[1][4] != "fragment" {
		t.Errorf("ttl clear output:\n%s", out)
	}
	if len(comp.Tuning().Overrides) != 0 {
		t.Errorf("override left after clear: %+v", comp.Tuning())
	}

	out, _, err = run(t, env, "purge", "headlines")
	if err != nil || out != "purged headlines (generation 1)\n" {
		t.Errorf("purge: %v, %q", err, out)
	}
	if g := comp.Tuning().Generations["headlines"]; g != 1 {
		t.Errorf("generation %d after purge", g)
	}
}

func TestTTLErrors(t *testing.T) {
	t.Parallel()
	comp, base := startComposer(t, token)
	env := envOf("TESSERA_URL", base, "TESSERA_ADMIN_TOKEN", token)
	tests := []struct {
		name string
		env  func(string) string
		args []string
		want string
	}{
		{"unknown fragment", env, []string{"ttl", "set", "nope", "30s"}, `ttl set nope: unknown fragment "nope" (HTTP 404 Not Found)`},
		{"bad duration", env, []string{"ttl", "set", "weather", "3 seconds"}, `ttl set weather: ttl: "3 seconds" is not a duration (use e.g. 500ms, 30s, 5m) (HTTP 400 Bad Request)`},
		{"too long", env, []string{"ttl", "set", "weather", "30s", "--swr", "400h"}, `swr: "400h" must be between 0s and 168h`},
		{"purge unknown", env, []string{"purge", "nope"}, `purge nope: unknown fragment "nope"`},
		{"no token", envOf("TESSERA_URL", base), []string{"ttl", "list"}, "(HTTP 401 Unauthorized); TESSERA_ADMIN_TOKEN is not set"},
		{"wrong token", envOf("TESSERA_URL", base, "TESSERA_ADMIN_TOKEN", "nope"), []string{"purge", "weather"}, "(HTTP 401 Unauthorized); TESSERA_ADMIN_TOKEN does not match the composer's token"},
		{"url flag wins", env, []string{"ttl", "list", "--url", "http://127.0.0.1:1"}, "cannot reach the composer at http://127.0.0.1:1"},
		{"bad url", env, []string{"ttl", "list", "--url", "ftp://x"}, `is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := run(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
		})
	}
	if len(comp.Tuning().Overrides) != 0 || len(comp.Tuning().Generations) != 0 {
		t.Errorf("failed commands changed the tuning: %+v", comp.Tuning())
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	env := envOf()
	for _, args := range [][]string{
		{"--help"}, {"ttl", "--help"}, {"ttl", "list", "--help"}, {"ttl", "set", "-h"},
		{"ttl", "clear", "--help"}, {"purge", "--help"}, {"check", "--help"}, {"config", "--help"},
	} {
		out, _, err := run(t, env, args...)
		if err != nil || !strings.HasPrefix(out, "Usage: tessera") {
			t.Errorf("%q: %v\n%s", args, err, out)
		}
	}
	out, _, _ := run(t, env, "ttl", "set", "--help")
	for _, want := range []string{"Usage: tessera ttl set NAME DURATION [flags]", "--swr window", "--url URL", "TESSERA_ADMIN_TOKEN", "(default http://127.0.0.1:8080)"} {
		if !strings.Contains(out, want) {
			t.Errorf("ttl set --help lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{
		{}, {"nope"}, {"ttl"}, {"ttl", "nope"}, {"ttl", "set", "weather"}, {"ttl", "set", "a", "1s", "extra"},
		{"purge"}, {"ttl", "list", "--nope"}, {"config", "extra"},
	} {
		_, stderr, err := run(t, env, args...)
		if !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%q: error %v; want ErrUsage", args, err)
		}
		if !strings.Contains(stderr, "Usage: tessera") {
			t.Errorf("%q: no usage on stderr: %q", args, stderr)
		}
	}
	for _, c := range []string{"ttl", "purge", "check", "config"} {
		if !cli.Handles(c) {
			t.Errorf("Handles(%q) = false", c)
		}
	}
	if cli.Handles("composer") {
		t.Error(`Handles("composer") = true`)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("tessera.yaml", string(config.Default))
	secrets := envOf("TESSERA_WEATHER_TOKEN", "t", "TESSERA_SHOWS_SECRET", "s")

	out, _, err := run(t, secrets, "check", good)
	if err != nil || out != good+": ok (4 fragments, 4 pages)\n" {
		t.Errorf("check of the built-in config: %v\n%s", err, out)
	}

	// A missing secret is reported: the composer would refuse to start.
	out, _, err = run(t, envOf("TESSERA_SHOWS_SECRET", "s"), "check", good)
	if err == nil || !strings.Contains(out, "fragments.weather.auth.secret_env: environment variable TESSERA_WEATHER_TOKEN is empty") {
		t.Errorf("check without a secret: %v\n%s", err, out)
	}

	bad := strings.Replace(string(config.Default), "ttl: 60s", "ttl: 60s\n    timeout: 3 seconds", 1)
	bad = strings.Replace(bad, "ttl: 30s", "ttl: 30 s", 1)
	badFile := write("bad.yaml", bad)
	lineOf := func(sub string) int {
		for i, l := range strings.Split(bad, "\n") {
			if strings.Contains(l, sub) {
				return i + 1
			}
		}
		t.Fatalf("%q not in the config", sub)
		return 0
	}
	out, _, err = run(t, secrets, "check", badFile)
	if err == nil || err.Error() != badFile+": 2 problems" {
		t.Errorf("check error %v; want %q", err, badFile+": 2 problems")
	}
	want := fmt.Sprintf("%s:%d: fragments.headlines.ttl: \"30 s\" is not a duration (use e.g. 500ms, 30s, 5m)\n"+
		"%s:%d: fragments.weather.timeout: \"3 seconds\" is not a duration (use e.g. 500ms, 30s, 5m)\n",
		badFile, lineOf("ttl: 30 s"), badFile, lineOf("timeout: 3 seconds"))
	if out != want {
		t.Errorf("check output:\n%s\nwant:\n%s", out, want)
	}

	// A slot naming a fragment that is not declared at all is reported.
	undeclared := strings.Replace(string(config.Default), "  shows:\n", "  showz:\n", 1)
	out, _, err = run(t, secrets, "check", write("undeclared.yaml", undeclared))
	if err == nil || !strings.Contains(out, `pages[1].layout: slot "shows" names no declared fragment`) {
		t.Errorf("check of an undeclared fragment: %v\n%s", err, out)
	}

	write("broken.yaml", "fragments: [\n")
	out, _, err = run(t, secrets, "check", filepath.Join(dir, "broken.yaml"))
	if err == nil || !strings.Contains(out, "broken.yaml:") {
		t.Errorf("check of broken YAML: %v\n%s", err, out)
	}

	if _, _, err = run(t, secrets, "check", filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("check of a missing file: %v", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, envOf(), "config")
	if err != nil || out != string(config.Default) {
		t.Errorf("config: %v\n%s", err, out)
	}
}

// A wrong command line is answered with what was wrong, then the usage of
// the command meant.
func TestUsageErrorsSayWhatWasWrong(t *testing.T) {
	t.Parallel()
	env := envOf()
	for _, tt := range []struct {
		args      []string
		problem   string
		usageHead string
	}{
		{[]string{"ttl", "set", "weather", "-5s"}, "tessera: ttl set: -5s is negative", "Usage: tessera ttl set NAME DURATION"},
		{[]string{"ttl", "set", "weather", "2m", "extra"}, `tessera: ttl set: unexpected argument "extra"`, "Usage: tessera ttl set NAME DURATION"},
		{[]string{"ttl", "set", "weather", "2m", "--foo", "1s"}, "tessera: ttl set: unknown flag --foo", "Usage: tessera ttl set NAME DURATION"},
		{[]string{"ttl", "lst"}, `tessera: ttl: unknown command "lst"`, "Usage: tessera ttl COMMAND"},
		{[]string{"nope"}, `tessera: unknown command "nope"`, "Usage: tessera COMMAND"},
		{[]string{"help", "nope"}, `tessera: help: unknown command "nope"`, "Usage: tessera COMMAND"},
	} {
		_, stderr, err := run(t, env, tt.args...)
		if !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%q: error %v; want ErrUsage", tt.args, err)
		}
		problem, usage, _ := strings.Cut(stderr, "\n\n")
		if problem != tt.problem && !strings.HasPrefix(problem, tt.problem) || !strings.HasPrefix(usage, tt.usageHead) {
			t.Errorf("%q: stderr\n%s\nwant %q, then the usage %q", tt.args, stderr, tt.problem, tt.usageHead)
		}
	}
	for _, tt := range []struct{ args []string }{{[]string{"help", "ttl"}}, {[]string{"help", "ttl", "set"}}, {[]string{"help"}}} {
		out, _, err := run(t, env, tt.args...)
		if err != nil || !strings.HasPrefix(out, "Usage: tessera") {
			t.Errorf("%q: %v\n%s", tt.args, err, out)
		}
	}
	if out, _, _ := run(t, env, "help", "ttl", "set"); !strings.HasPrefix(out, "Usage: tessera ttl set NAME DURATION") {
		t.Errorf("help ttl set:\n%s", out)
	}
}
