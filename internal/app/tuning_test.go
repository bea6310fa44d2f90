package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/cli"
	"github.com/tessera-dev/tessera/internal/redistest"
)

func TestTTLSetWithCLIReachesEveryComposerAndSurvivesRestart(t *testing.T) {
	rs := redistest.Start(t)
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	cfg := []byte(fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  a:\n    url: %s\n    ttl: 30s\npages:\n  - path: /\n    layout: %s\n",
		a.URL, writeLayout(t)))
	start := func() *app.Composer {
		c, err := app.StartComposer(app.ComposerOptions{ConfigYAML: cfg, RedisURL: rs.URL()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	one, two := start(), start()
	defer func() { _ = one.Close() }()

	var out, errOut bytes.Buffer
	getenv := func(k string) string { return map[string]string{"TESSERA_URL": "http://" + one.DisplayAddr()}[k] }
	if err := cli.Run(context.Background(), []string{"ttl", "set", "a", "5s", "--swr", "1m"}, &out, &errOut, getenv); err != nil {
		t.Fatalf("tessera ttl set: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "5s") {
		t.Errorf("ttl set printed %q", out.String())
	}
	ttlOf := func(c *app.Composer) time.Duration {
		o, ok := c.Tuning().Overrides["a"]
		if !ok || o.TTL == nil {
			return 0
		}
		return *o.TTL
	}
	deadline := time.Now().Add(time.Second)
	for ttlOf(two) != 5*time.Second {
		if time.Now().After(deadline) {
			t.Fatalf("second composer still has TTL %s a second after the change", ttlOf(two))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := two.Close(); err != nil {
		t.Fatal(err)
	}
	three := start()
	defer func() { _ = three.Close() }()
	if got := ttlOf(three); got != 5*time.Second {
		t.Fatalf("restarted composer has TTL %s, want 5s", got)
	}

	out.Reset()
	if err := cli.Run(context.Background(), []string{"ttl", "list"}, &out, &errOut, getenv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "override") {
		t.Errorf("ttl list does not show the override:\n%s", out.String())
	}
	if err := cli.Run(context.Background(), []string{"ttl", "set", "a", "3 seconds"}, &out, &errOut, getenv); err == nil {
		t.Error("a bad duration was accepted")
	}
	if err := cli.Run(context.Background(), []string{"ttl", "set", "nosuch", "3s"}, &out, &errOut, getenv); err == nil {
		t.Error("an unknown fragment was accepted")
	}
}

func writeLayout(t *testing.T) string {
	t.Helper()
	p := t.TempDir() + "/page.html"
	writeFile(t, p, "<html><body><!--@slot:a--></body></html>")
	return p
}

func TestReadyzReportsRedisOutage(t *testing.T) {
	rs := redistest.Start(t)
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	cfg := []byte(fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  a:\n    url: %s\n    ttl: 30s\npages:\n  - path: /\n    layout: %s\n",
		a.URL, writeLayout(t)))
	c, err := app.StartComposer(app.ComposerOptions{ConfigYAML: cfg, RedisURL: rs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	base := "http://" + c.DisplayAddr()
	ready := func() string {
		_, body, err := fetch(http.DefaultClient, base+"/readyz")
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	if r := ready(); !strings.Contains(r, `"status":"ok"`) {
		t.Fatalf("readyz with Redis up: %s", r)
	}
	rs.Kill()
	if r := ready(); !strings.Contains(r, `"status":"degraded"`) {
		t.Fatalf("readyz with Redis down: %s", r)
	}
	if code, body, _ := fetch(http.DefaultClient, base+"/"); code != 200 || !strings.Contains(body, ">A<") {
		t.Fatalf("page with Redis down: %d", code)
	}
	rs.Restart()
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(ready(), `"status":"ok"`) })
}
