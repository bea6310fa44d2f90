package topbar_test

import (
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/fragments/fragment/fragmenttest"
	"github.com/tessera-dev/tessera/fragments/topbar"
)

func TestBarHoldsSlotsForHeadlinesAndWeather(t *testing.T) {
	srv, err := topbar.New(topbar.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := fragmenttest.Start(t, srv)
	resp := ts.Get(t, "/")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	body := string(resp.Body())
	for _, want := range []string{`data-fragment="topbar"`, "<!--@slot:headlines view=ticker-->", "<!--@slot:weather view=mini-->"} {
		if !strings.Contains(body, want) {
			t.Errorf("bar lacks %q: %s", want, body)
		}
	}
	if v := string(resp.Header.Peek("X-Fragment-Version")); v != topbar.Version {
		t.Errorf("version %q", v)
	}
}

func TestStylesheet(t *testing.T) {
	srv, err := topbar.New(topbar.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := fragmenttest.Start(t, srv)
	css := string(ts.Stylesheet(t, ts.Get(t, "/"), "topbar.css"))
	for _, want := range []string{".frag-topbar__inner {", ".frag-topbar__news {", ".frag-topbar__weather {"} {
		if !strings.Contains(css, want) {
			t.Errorf("topbar.css lacks %q", want)
		}
	}
	// The headlines ticker and the mini weather are styled by their own
	// fragments, the slot around the bar by the site.
	for _, other := range []string{".frag-headlines", ".frag-weather", ".topbar "} {
		if strings.Contains(css, "\n"+other) {
			t.Errorf("topbar.css has rules for %s", other)
		}
	}
}
