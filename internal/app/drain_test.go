package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/nginxtest"
	"github.com/tessera-dev/tessera/internal/redistest"
)

func startOneSlotComposer(t *testing.T, fragURL, layout, redisURL string) *app.Composer {
	t.Helper()
	cfg := []byte(fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  a:\n    url: %s\n    ttl: 30s\npages:\n  - path: /\n    layout: %s\n", fragURL, layout))
	c, err := app.StartComposer(app.ComposerOptions{ConfigYAML: cfg, RedisURL: redisURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readyCode(url string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	code, _, err := fetch(c, url+"/readyz")
	if err != nil {
		return 0
	}
	return code
}

// On Drain, readiness fails at once while pages are still served; then
// the composer stops accepting.
func TestDrainFailsReadinessFirstThenStops(t *testing.T) {
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	c := startOneSlotComposer(t, a.URL, writeLayout(t), "")
	base := "http://" + c.DisplayAddr()
	if code := readyCode(base); code != 200 {
		t.Fatalf("readyz before drain: %d", code)
	}
	drained := make(chan error, 1)
	go func() { drained <- c.Drain(context.Background(), 2*time.Second) }()
	waitFor(t, 10*time.Second, func() bool { return readyCode(base) == http.StatusServiceUnavailable })
	_, body, _ := fetch(http.DefaultClient, base+"/readyz")
	if !strings.Contains(body, `"status":"draining"`) {
		t.Errorf("readyz body while draining: %s", body)
	}
	if code, body, err := fetch(http.DefaultClient, base+"/"); err != nil || code != 200 || !strings.Contains(body, ">A<") {
		t.Fatalf("page while draining: %d %v", code, err)
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Drain did not return within 30s")
	}
	if _, _, err := fetch(&http.Client{Timeout: 2 * time.Second}, base+"/"); err == nil {
		t.Fatal("composer still serving after the drain")
	}
}

// A rolling restart of three composers behind nginx with retries off loses
// no page: the orchestrator (here, the test) takes a composer out of the
// balancer when its readiness fails, as Kubernetes does with endpoints.
func TestRollingRestartBehindNginxLosesNoPage(t *testing.T) {
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	layout := writeLayout(t)
	rs := redistest.Start(t)
	comps := make([]*app.Composer, 3)
	addrs := func() []string {
		var out []string
		for _, c := range comps {
			if c != nil {
				out = append(out, c.DisplayAddr())
			}
		}
		return out
	}
	for i := range comps {
		comps[i] = startOneSlotComposer(t, a.URL, layout, rs.URL())
	}
	t.Cleanup(func() {
		for _, c := range comps {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	lb := nginxtest.Start(t, addrs())

	var total, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := fetch(client, lb.URL()+"/")
				total.Add(1)
				if err != nil || code != 200 || !strings.Contains(body, ">A<") {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %v", code, err))
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	for i := range comps {
		old := comps[i]
		base := "http://" + old.DisplayAddr()
		drained := make(chan error, 1)
		go func() { drained <- old.Drain(context.Background(), 3*time.Second) }()
		waitFor(t, 10*time.Second, func() bool { return readyCode(base) == http.StatusServiceUnavailable })
		comps[i] = nil
		lb.SetUpstreams(addrs())
		select {
		case err := <-drained:
			if err != nil {
				t.Errorf("drain composer %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("composer %d did not finish draining within 30s", i)
		}
		comps[i] = startOneSlotComposer(t, a.URL, layout, rs.URL())
		nb := "http://" + comps[i].DisplayAddr()
		waitFor(t, 10*time.Second, func() bool { return readyCode(nb) == 200 })
		lb.SetUpstreams(addrs())
	}
	close(stop)
	wg.Wait()
	t.Logf("%d pages through nginx over a rolling restart of 3 composers", total.Load())
	if total.Load() == 0 {
		t.Fatal("no page was requested")
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d pages failed over the rolling restart; first: %v", n, total.Load(), firstFailure.Load())
	}
}

// With no replica to take over, a lost master makes the cluster answer
// CLUSTERDOWN: readiness says so, and pages are still served, fetched.
func TestReadyzReportsClusterDown(t *testing.T) {
	rc := redistest.StartCluster(t, redistest.ClusterOptions{})
	a := composertest.NewFragment(t, "a", `<section data-fragment="a">A</section>`)
	c := startOneSlotComposer(t, a.URL, writeLayout(t), rc.URL())
	defer func() { _ = c.Close() }()
	base := "http://" + c.DisplayAddr()
	ready := func() string {
		_, body, err := fetch(http.DefaultClient, base+"/readyz")
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(ready(), `"status":"ok"`) })
	rc.Master(0).Kill()
	rc.WaitState(func(s redistest.ClusterState) bool { return !s.OK })
	waitFor(t, 30*time.Second, func() bool {
		r := ready()
		return strings.Contains(r, `"status":"degraded"`) && strings.Contains(r, "cluster_state:fail")
	})
	for range 5 {
		if code, body, err := fetch(http.DefaultClient, base+"/"); err != nil || code != 200 || !strings.Contains(body, ">A<") {
			t.Fatalf("page on a CLUSTERDOWN cluster: %d %v", code, err)
		}
	}
}
