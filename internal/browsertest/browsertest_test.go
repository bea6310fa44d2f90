package browsertest_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/internal/browsertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>browsertest</title><link rel="icon" href="data:,"></head>
<body>
<p data-testid="greeting">Hello, Tessera</p>
<script>
console.log("not an error");
console.error("boom", 42);
</script>
</body>
</html>`

const throwing = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>throws</title><link rel="icon" href="data:,"></head>
<body><script>throw new TypeError("kaput");</script></body>
</html>`

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("/throws", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(throwing))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowser(t *testing.T) {
	srv := serve(t)
	b := browsertest.New(t)

	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="greeting"]`)))
	if err != nil {
		t.Fatalf("text: %v", err)
	}
	if text != "Hello, Tessera" {
		t.Errorf("greeting = %q, want %q", text, "Hello, Tessera")
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
	if err != nil {
		t.Fatalf("innerWidth: %v", err)
	}
	if width != browsertest.Width {
		t.Errorf("innerWidth = %d, want %d", width, browsertest.Width)
	}

	errs := b.ConsoleErrors()
	if len(errs) != 1 || errs[0] != "console.error: boom 42" {
		t.Errorf("ConsoleErrors() = %q, want [\"console.error: boom 42\"]", errs)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/throws")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	errs = b.ConsoleErrors()
	if len(errs) != 2 || !strings.Contains(errs[1], "TypeError: kaput") {
		t.Errorf("ConsoleErrors() = %q, want a second entry with TypeError: kaput", errs)
	}

	path := filepath.Join(t.TempDir(), "shots", "page.png")
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG: % x", png[:min(8, len(png))])
	}
}
