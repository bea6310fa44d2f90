package composer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/upstream"
)

// TestFallbackFitsItsPlace: a slot gets the fallback for its view, nested
// slots included; a view without one gets the fragment's fallback, and an
// empty one the empty placeholder.
func TestFallbackFitsItsPlace(t *testing.T) {
	const src = `
fragments:
  w:
    url: "http://127.0.0.1:1/w"
    timeout: 200ms
    params: {view: [mini, widget, full]}
    fallback: '<section class="card">Weather is unavailable right now.</section>'
    fallbacks:
      mini: '<span class="mini-down">–</span>'
      full: ''
  bar:
    url: "http://127.0.0.1:1/bar"
    timeout: 200ms
    nest: [w]
pages:
  - {path: /, title: T, layout: page.html, order: document}
`
	site := siteFrom(t, src, `<main><!--@slot:bar--><div id="widget"><!--@slot:w view=widget--></div><div id="full"><!--@slot:w view=full--></div></main>`)
	c, err := New(Options{Site: site, Cache: &fakeCache{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.fetcher = &fakeFetcher{fn: func(_ context.Context, req *upstream.Request) (*upstream.Answer, error) {
		if strings.Contains(req.URL, "/bar") {
			return &upstream.Answer{Body: []byte(`<div id="bar"><!--@slot:w view=mini--></div>`), Shareable: true}, nil
		}
		return nil, errors.New("weather down")
	}}
	body := pageServer(t, c)("/")
	for _, want := range []string{
		`<div id="bar"><span class="mini-down">–</span></div>`,
		`<div id="widget"><section class="card">Weather is unavailable right now.</section></div>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if full := between(body, `<div id="full">`, `</div>`); strings.Contains(full, "card") || !strings.Contains(full, `data-fragment-empty="w"`) {
		t.Errorf("a view with an empty fallback shows %q, want the empty placeholder", full)
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	in, _, _ := strings.Cut(rest, to)
	return in
}

func TestFallbacksNameViews(t *testing.T) {
	src := "fragments:\n  w:\n    url: http://127.0.0.1:1/\n    params: {view: [mini]}\n    fallbacks: {tiny: x}\npages:\n  - {path: /, layout: page.html}\n"
	cfg, err := config.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Compile("t.yaml", []byte(src), t.TempDir(), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `t.yaml:5: fragments.w.fallbacks.tiny: "tiny" is not one of the views params.view lists (mini)`) {
		t.Fatalf("err = %v", err)
	}
}
