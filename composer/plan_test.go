package composer

import (
	"bytes"
	"testing"

	"github.com/tessera-dev/tessera/composer/config"
)

// FuzzPlanNested feeds hostile fragment markup to the nested planner: it
// never panics, fills at most the markers one answer may place and the
// slots left in the page's budget, never a fragment the parent may not
// place, and keeps every byte of the answer that is not a marker.
func FuzzPlanNested(f *testing.F) {
	f.Add([]byte(`<p><!--@slot:b--><!--@slot:a--></p>`))
	f.Add(bytes.Repeat([]byte(`<!--@slot:b view=x-->`), 50))
	f.Add([]byte(`<!--@slot:b view=admin limit=999999--><!--@slot:`))
	f.Add([]byte(`<!--@slot:nosuch--><!--@slot:b primary=true-->`))
	site := fuzzSite(f)
	parent := &plannedSlot{slot: site.Pages["/"].Slots()[0], chain: []string{"a"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := newBudget(site.Limits, 1)
		np := planNested(site, body, parent, request{}, &Tuning{}, b)
		if len(np.slots) > site.Limits.MarkersPerAnswer || len(np.slots) > site.Limits.SlotsPerPage-1 {
			t.Fatalf("%d nested slots planned", len(np.slots))
		}
		for _, s := range np.slots {
			if s.slot.Fragment.Name != "b" {
				t.Fatalf("placed %q, which a's config does not name", s.slot.Fragment.Name)
			}
			if q := s.slot.Params(); q != "" && q != "view=x" {
				t.Fatalf("placed b with %q", q)
			}
		}
		var static int
		for _, p := range np.parts {
			if p.slot < 0 {
				static += len(p.static)
			}
		}
		if static != np.own {
			t.Fatalf("own bytes %d, static parts %d", np.own, static)
		}
		if len(body) > 0 && !hasMarker(body) && !bytes.Equal(np.parts[0].static, body) {
			t.Fatalf("markup without markers changed")
		}
	})
}

func fuzzSite(f *testing.F) *config.Site {
	f.Helper()
	return siteFrom(f, `
fragments:
  a: {url: "http://127.0.0.1:1/", nest: [b]}
  b: {url: "http://127.0.0.1:1/", params: {view: [x]}}
  c: {url: "http://127.0.0.1:1/"}
pages:
  - {path: /, title: T, layout: page.html}
limits: {markers_per_answer: 4, slots_per_page: 6}
`, `<main><!--@slot:a--></main>`)
}
