package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestHostileNestingIsBounded runs the composer as its own process against
// fragments that place 2,000 markers each, two levels deep: every page is
// answered within its deadline, the composer's RSS stays below 100 MB, and
// another page is served all the while.
func TestHostileNestingIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the composer binary")
	}
	hostile := serveFragment(t, `<section data-fragment="outer">`+strings.Repeat(`<!--@slot:inner-->`, 2000)+`</section>`)
	inner := serveFragment(t, `<div>`+strings.Repeat(`<!--@slot:leaf-->`, 2000)+`</div>`)
	leaf := serveFragment(t, `<b>leaf</b>`)
	calm := serveFragment(t, `<p data-fragment="calm">calm</p>`)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`fragments:
  outer: {url: %q, timeout: 1s}
  inner: {url: %q, timeout: 1s}
  leaf: {url: %q, timeout: 1s}
  calm: {url: %q, timeout: 1s}
pages:
  - {path: /, title: Hostile, layout: hostile.html}
  - {path: /calm, title: Calm, layout: calm.html}
`, hostile, inner, leaf, calm)
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tessera.yaml", cfg)
	write("hostile.html", `<!doctype html><title>h</title><main><!--@slot:outer--></main>`)
	write("calm.html", `<!doctype html><title>c</title><main><!--@slot:calm--></main>`)

	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "tessera.yaml"), "-addr", "127.0.0.1:0", "-log-level", "info")
	cmd.Env = append(os.Environ(), "REDIS_URL=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := waitListening(t, stderr)

	// Watch the RSS while the pages are served; stop the composer before
	// it can take the machine down.
	var peak atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			rss := rssBytes(cmd.Process.Pid)
			if rss > peak.Load() {
				peak.Store(rss)
			}
			if rss > 400<<20 {
				_ = cmd.Process.Kill()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, int, time.Duration, error) {
		start := time.Now()
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, 0, 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, int(n), time.Since(start), err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				code, n, dur, err := get("/")
				switch {
				case err != nil:
					errs <- fmt.Errorf("hostile page: %v", err)
					return
				case code != 200:
					errs <- fmt.Errorf("hostile page: status %d", code)
				case dur > 3*time.Second:
					errs <- fmt.Errorf("hostile page took %s, past its deadline", dur)
				case n > 1<<20:
					errs <- fmt.Errorf("hostile page is %d bytes", n)
				}
			}
		}()
	}
	calmServed := 0
	for range 20 {
		code, _, _, err := get("/calm")
		if err != nil || code != 200 {
			t.Errorf("calm page while a hostile one is composed: %d %v", code, err)
			break
		}
		calmServed++
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if hwm := highWater(cmd.Process.Pid); hwm > peak.Load() {
		peak.Store(hwm)
	}
	if p := peak.Load(); p >= 100<<20 {
		t.Fatalf("composer RSS peaked at %d MB, want below 100 MB", p>>20)
	}
	t.Logf("composer RSS peak %d MB; %d calm pages served meanwhile", peak.Load()>>20, calmServed)
}

func serveFragment(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("text/html; charset=utf-8")
		rc.Response.Header.Set("Cache-Control", "public, max-age=60")
		rc.SetBodyString(body)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); _ = ln.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// waitListening reads the composer's JSON log until it says where it
// listens, and keeps draining it afterwards.
func waitListening(t *testing.T, r io.Reader) string {
	t.Helper()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "composer listening" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("composer did not start listening within 30s")
		return ""
	}
}

func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func rssBytes(pid int) int64  { return procStatus(pid, "VmRSS") }
func highWater(pid int) int64 { return procStatus(pid, "VmHWM") }
