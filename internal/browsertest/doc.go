// Package browsertest drives a headless Chromium in tests.
//
// New starts one Chromium per test through chromedp, with a fresh profile in a
// temporary directory and a 1366x900 window, and closes it when the test ends.
// The returned Browser records console errors, uncaught exceptions and error
// entries of the browser log, so a test can assert that a page runs cleanly:
//
//	b := browsertest.New(t)
//	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
//	defer cancel()
//	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
//		t.Fatal(err)
//	}
//	if errs := b.ConsoleErrors(); len(errs) > 0 {
//		t.Errorf("console errors: %q", errs)
//	}
//
// The browser is $CHROMIUM when set, else /usr/bin/chromium, else chromium in
// PATH. When none exists, New skips the test with a message that says how to
// install it; with CI=true in the environment it fails the test instead.
// Browser tests are slow, so New also skips them under go test -short.
package browsertest
