package scaffold_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/tessera-dev/tessera/composer/composertest"
	"github.com/tessera-dev/tessera/internal/app"
)

// A scaffolded fragment, built and started as its own process, appears on a
// page of a running composer once the config file names it: no restart.
func TestNewFragmentGoesLiveWithoutRestart(t *testing.T) {
	m := scaffoldedModule(t)
	t.Parallel()
	const secret = "secret-shared-by-the-composer-and-the-service"
	addr := startService(t, m.bin, m.res.EnvVar+"="+secret)

	old := composertest.NewFragment(t, "news", `<section data-fragment="news">News</section>`)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tessera.yaml")
	writeAtomic(t, filepath.Join(dir, "home.html"), `<html><body><!--@slot:news--></body></html>`)
	head := fmt.Sprintf("listen: 127.0.0.1:0\nfragments:\n  news:\n    url: %s\n", old.URL)
	pages := "pages:\n  - path: /\n    layout: home.html\n"
	writeAtomic(t, cfgPath, head+pages)

	env := map[string]string{
		m.res.EnvVar: secret,
		// The printed entry says the service's default port; this one
		// listens where the system put it.
		"TESSERA_FRAGMENT_TOP_PICKS_URL": "http://" + addr + "/",
	}
	c, err := app.StartComposer(app.ComposerOptions{ConfigPath: cfgPath, Watch: true, Env: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	base := "http://" + c.Addr()
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	if code, body := get(t, client, base+"/"); code != 200 || !strings.Contains(body, ">News<") {
		t.Fatalf("/ before the change: %d %s", code, body)
	}
	if code, _ := get(t, client, base+"/picks"); code == 200 {
		t.Fatal("/picks exists before the change")
	}

	// What the walkthrough says: paste the printed entry under fragments:,
	// put the slot in a layout, add a page.
	writeAtomic(t, filepath.Join(dir, "picks.html"),
		"<html><body><h1>Picks</h1>"+m.res.Slot+"\n"+strings.Replace(m.res.Slot, "-->", " city=paris-->", 1)+"</body></html>")
	writeAtomic(t, cfgPath, head+m.res.ConfigSnippet+pages+"  - path: /picks\n    layout: picks.html\n")

	var doc *goquery.Document
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, client, base+"/picks")
		if code == 200 {
			var err error
			if doc, err = goquery.NewDocumentFromReader(strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
			if doc.Find(`section[data-fragment="top-picks"] [data-testid="top-picks-title"]`).Length() == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/picks never showed the new fragment; last answer %d:\n%s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := doc.Find(".frag-fallback").Length(); n > 0 {
		t.Errorf("%d fallbacks on the page", n)
	}
	if got := doc.Find(`[data-testid="top-picks-title"]`).First().Text(); got != "Top picks" {
		t.Errorf("title %q", got)
	}
	if got := doc.Find(`[data-testid="top-picks-city"]`).Text(); got != "paris" {
		t.Errorf("slot parameter: city %q, want paris", got)
	}
	if code, body := get(t, client, base+"/"); code != 200 || !strings.Contains(body, ">News<") {
		t.Errorf("/ after the change: %d %s", code, body)
	}
}

// get fetches a page as a client that runs no script (a crawler) does, so
// that every slot arrives in document order and the markup read is final.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// writeAtomic replaces a file by renaming, as editors do, so the composer
// never reads half a file.
func writeAtomic(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startService runs the built command on a port of the system's choosing
// with env added to the environment, and returns its address once it
// listens. The process is stopped with SIGTERM when the test ends and must
// exit cleanly.
func startService(t *testing.T, bin string, env ...string) string {
	t.Helper()
	logs := &listenWatcher{addr: make(chan string, 1)}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-log-format", "json")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v\n%s", filepath.Base(bin), err, logs)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop on SIGTERM\n%s", filepath.Base(bin), logs)
		}
	})
	select {
	case addr := <-logs.addr:
		return addr
	case err := <-exited:
		exited <- err
		t.Fatalf("%s exited: %v\n%s", filepath.Base(bin), err, logs)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not report its address\n%s", filepath.Base(bin), logs)
	}
	return ""
}

// listenWatcher keeps a process's JSON log and reports the address of its
// "listening" record.
type listenWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	sent bool
}

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		for line := range strings.SplitSeq(w.buf.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				w.addr <- rec.Addr
				w.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (w *listenWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
