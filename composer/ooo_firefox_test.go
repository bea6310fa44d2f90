package composer_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fxLayout puts a slow fragment (a, a red block) ahead of a fast one (b, a
// green block); a's place is a 200px pending box until it arrives.
const fxLayout = `<!doctype html><html><head><meta charset="utf-8"><title>ooo</title><link rel="icon" href="data:,"></head>
<body style="margin:0;background:#fff"><main><!--@slot:a reserve=200px--><!--@slot:b--></main></body></html>`

// TestOutOfOrderInFirefox: Firefox has no declarative partial updates, so
// the inline fallback script must move each late slot's template into its
// place. Headless Firefox loads an out-of-order page whose first fragment
// arrives after the second, and its screenshot shows both in document
// order: red (a) above green (b), no pending box left.
func TestOutOfOrderInFirefox(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	firefox, err := exec.LookPath("firefox-esr")
	if err != nil {
		if firefox, err = exec.LookPath("firefox"); err != nil {
			if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
				t.Fatal("firefox not installed: apt-get install firefox-esr (required when CI=true)")
			}
			t.Skip("firefox not installed: apt-get install firefox-esr")
		}
	}
	e := newEnvLayout(t, fxLayout, map[string]string{"a": "ttl: 0s\ntimeout: 5s", "b": "ttl: 0s"}, streamAlways)
	e.a.SetBody(`<section data-fragment="a" style="height:200px;background:#f00"></section>`)
	e.b.SetBody(`<section data-fragment="b" style="height:100px;background:#0f0"></section>`)
	e.a.SetDelay(300 * time.Millisecond)
	e.get("/") // the composer has met both fragments
	shot := filepath.Join(t.TempDir(), "page.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, firefox, "--headless", "--no-remote", "--profile", t.TempDir(), "--window-size=400,400", "--screenshot", shot, e.base+"/")
	cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1", "HOME="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("firefox: %v\n%s", err, out.String())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out.String())
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int) string {
		r, g, b, _ := color.RGBAModel.Convert(img.At(200, y)).RGBA()
		switch {
		case r > 0xf000 && g < 0x1000 && b < 0x1000:
			return "red"
		case g > 0xf000 && r < 0x1000 && b < 0x1000:
			return "green"
		case r > 0xf000 && g > 0xf000 && b > 0xf000:
			return "white"
		}
		return "other"
	}
	if got := at(100) + " " + at(250) + " " + at(350); got != "red green white" {
		t.Errorf("Firefox shows %s at y=100, 250, 350; want red green white (a patched into its place above b)", got)
	}
	if a := e.a.Calls(); a < 2 {
		t.Fatalf("a was fetched %d times: Firefox never loaded the page", a)
	}
}
