package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	// startTimeout bounds the launch of the browser.
	startTimeout = 30 * time.Second
	// closeTimeout bounds a graceful close before the process is killed.
	closeTimeout = 10 * time.Second
	// screenshotTimeout bounds one screenshot.
	screenshotTimeout = 15 * time.Second
)

// Width and Height are the size of the browser window.
const (
	Width  = 1366
	Height = 900
)

// Browser is a headless Chromium owned by one test.
type Browser struct {
	// Ctx is the chromedp context of the browser's tab. Derive per-action
	// deadlines from it with context.WithTimeout; canceling Ctx itself
	// closes the browser.
	Ctx context.Context

	mu   sync.Mutex
	errs []string
}

// New starts a headless Chromium and returns it with its tab open on
// about:blank. The browser is closed, and its process waited for, when the
// test ends.
func New(t testing.TB) *Browser {
	t.Helper()
	return NewWithFlags(t, nil)
}

// NewWithFlags is New with further command-line flags for the browser,
// such as "disable-blink-features" to test a page without a feature.
func NewWithFlags(t testing.TB, flags map[string]any) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path, err := execPath()
	if err != nil {
		unavailable(t, "chromium not installed: apt-get install chromium ("+err.Error()+")")
		return nil
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(Width, Height),
	)
	for k, v := range flags {
		opts = append(opts, chromedp.Flag(k, v))
	}
	// No UserDataDir option: chromedp then creates a fresh temporary profile
	// and, once the browser exits, kills any leftover child processes and
	// removes the directory.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	b.Ctx = ctx
	t.Cleanup(func() { b.close(ctx, cancel, allocCancel) })

	// The first Run starts the browser and binds it to ctx, so it must not
	// carry a deadline; enforce the start timeout from outside instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer after %v", startTimeout)
	}
	if err != nil {
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	return b
}

// ConsoleErrors returns, in order, the console.error and console.assert
// messages, uncaught exceptions and error entries of the browser log (such as
// failed resource loads) seen so far.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// Screenshot writes a PNG of the whole page, beyond the viewport, to path,
// creating its directory.
func (b *Browser) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.Ctx, screenshotTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return nil
}

// record runs on the goroutine that reads the tab's messages, so it only
// appends under the lock.
func (b *Browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ": " + argsText(ev.Args)
	case *runtime.EventExceptionThrown:
		msg = "exception: " + exceptionText(ev.ExceptionDetails)
	case *log.EventEntryAdded:
		if ev.Entry == nil || ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log." + string(ev.Entry.Source) + ": " + ev.Entry.Text
		if ev.Entry.URL != "" {
			msg += " (" + ev.Entry.URL + ")"
		}
	default:
		return
	}
	b.mu.Lock()
	b.errs = append(b.errs, msg)
	b.mu.Unlock()
}

// close shuts the browser down gracefully, falling back to killing it, and
// waits until the process and its profile directory are gone.
func (b *Browser) close(ctx context.Context, cancel, allocCancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = chromedp.Cancel(ctx)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
	}
	cancel()
	allocCancel() // kills the process if still running and waits for it
	<-done
}

// execPath finds the browser binary.
func execPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		full, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("$CHROMIUM=%q: %w", p, err)
		}
		return full, nil
	}
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return debian, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", errors.New("no $CHROMIUM, " + debian + " or chromium in PATH")
	}
	return p, nil
}

// unavailable skips the test, or fails it when CI=true, because a required
// program is missing.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (required when CI=true)")
		return
	}
	t.Skip(msg)
}

// argsText renders console arguments roughly as DevTools prints them.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, remoteText(a))
	}
	return strings.Join(parts, " ")
}

func remoteText(o *runtime.RemoteObject) string {
	switch {
	case o == nil:
		return "null"
	case o.Type == runtime.RemoteObjectTypeString && len(o.Value) > 0:
		var s string
		if err := json.Unmarshal(o.Value, &s); err == nil {
			return s
		}
		return string(o.Value)
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return string(o.Value)
	default:
		return string(o.Type)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "unknown"
	}
	text := d.Text
	if d.Exception != nil {
		desc, _, _ := strings.Cut(remoteText(d.Exception), "\n    at ")
		text = strings.TrimSpace(text + " " + desc)
	}
	if d.URL != "" {
		text += fmt.Sprintf(" (%s:%d:%d)", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	}
	return text
}
