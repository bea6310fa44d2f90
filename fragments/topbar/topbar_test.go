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
