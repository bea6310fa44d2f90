package dashboard

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/config"
)

// What makes a fragment stand out.
const (
	// SlowShare: a p99 at or above this share of the fragment's timeout
	// is close to being cut.
	SlowShare = 0.8
	// FailingRate: this share of upstream calls failing or more.
	FailingRate = 0.05
)

// Fragment health, worst last.
const (
	StatusIdle     = "idle"     // not requested yet
	StatusOK       = "ok"       // answering
	StatusDegraded = "degraded" // failing, slow or probing after an open circuit
	StatusOpen     = "open"     // circuit open: skipped, served stale or fallback
)

// Cues on a fragment, as set in data-cues.
const (
	CueSlow    = "slow"
	CueFailing = "failing"
	CueOpen    = "open"
	CueStray   = "stray"
)

// Snapshot is everything the dashboard shows, as also served to the page's
// script as JSON.
type Snapshot struct {
	Fragments []Fragment `json:"fragments"`
	Pages     []Page     `json:"pages"`
	Summary   Summary    `json:"summary"`
	// Updated is the time of the snapshot, for people.
	Updated string `json:"updated"`
}

// Summary counts fragments by what stands out.
type Summary struct {
	Fragments int `json:"fragments"`
	Degraded  int `json:"degraded"`
	Open      int `json:"open"`
	Stray     int `json:"stray"`
	// Cells are the summary's texts by data-cell.
	Cells map[string]string `json:"cells"`
}

// Fragment is one fragment row.
type Fragment struct {
	Name     string    `json:"name"`
	URL      string    `json:"url"`
	Auth     string    `json:"auth"`
	Primary  bool      `json:"primary"`
	Pages    []string  `json:"pages"`
	Status   string    `json:"status"`
	Cues     []string  `json:"cues"`
	Versions []Version `json:"versions"`
	// Range is the version range the config accepts ("" for any).
	Range string `json:"range"`
	// Settings are the effective TTL, SWR and SIE with their sources.
	Settings []Setting `json:"settings"`
	// Overridden reports a run-time override of any of them.
	Overridden bool `json:"overridden"`
	// Cells are the row's texts by data-cell.
	Cells map[string]string `json:"cells"`
	// Ratio is the hit ratio, 0 to 1, or -1 before any request.
	Ratio float64 `json:"ratio"`
	// Assets are the stylesheets and scripts its latest answer declared.
	Assets []Asset `json:"assets"`
}

// Asset is one of a fragment's stylesheets or scripts, where pages link it.
type Asset struct {
	Kind string `json:"kind"` // stylesheet, script
	Href string `json:"href"`
}

// Version is one X-Fragment-Version seen, with how many answers carried it.
type Version struct {
	Version string `json:"version"`
	Count   uint64 `json:"count"`
	// Stray marks a version other than the one most answers carry.
	Stray bool `json:"stray"`
}

// Setting is one cache setting as in force.
type Setting struct {
	Field  string `json:"field"` // ttl, swr, sie
	Label  string `json:"label"`
	Value  string `json:"value"`  // a Go duration, "" when the fragment decides
	Source string `json:"source"` // override, config, fragment
}

// Page is one page with its slots in document order.
type Page struct {
	Path   string `json:"path"`
	Title  string `json:"title"`
	Layout string `json:"layout,omitempty"`
	Slots  []Slot `json:"slots"`
	// Status is the worst status of its slots.
	Status string `json:"status"`
}

// Slot is one slot of a page.
type Slot struct {
	Index    int    `json:"index"`
	Fragment string `json:"fragment"`
	Primary  bool   `json:"primary"`
}

// source is what a snapshot is built from: a composer, or a fake in tests.
type source struct {
	comp  admin.Composer
	stats func(name string) composer.FragmentStats
	now   func() time.Time
}

// snapshot reads the composer once.
func (s source) snapshot() Snapshot {
	now := s.now()
	rows, site := admin.Fragments(s.comp), s.comp.Site()
	snap := Snapshot{Fragments: make([]Fragment, 0, len(rows)), Updated: now.Format("15:04:05")}
	status := make(map[string]string, len(rows))
	for _, r := range rows {
		st := s.stats(r.Name)
		f := fragment(r, st, now)
		if cf, ok := site.Fragments[r.Name]; ok {
			f.Range = cf.Version
			// A fragment not fetched yet has no breaker yet: it is closed,
			// unless the config turned breakers off.
			if st.Breaker == "" && cf.Breaker.On() {
				f.Cells["circuit"] = "closed"
			}
		}
		status[f.Name] = f.Status
		snap.Fragments = append(snap.Fragments, f)
		snap.Summary.Fragments++
		switch f.Status {
		case StatusOpen:
			snap.Summary.Open++
		case StatusDegraded:
			snap.Summary.Degraded++
		}
		if slices.Contains(f.Cues, CueStray) {
			snap.Summary.Stray++
		}
	}
	snap.Summary.Cells = summaryCells(snap.Summary, snap.Updated)
	snap.Pages = pages(site, status)
	return snap
}

// fragment builds one row from the admin API's row and the counters.
func fragment(r admin.Fragment, st composer.FragmentStats, now time.Time) Fragment {
	f := Fragment{
		Name:    r.Name,
		URL:     r.URL,
		Auth:    r.Auth,
		Primary: r.Primary,
		Pages:   r.Pages,
		Settings: []Setting{
			{Field: "ttl", Label: "TTL", Value: r.TTL, Source: r.TTLSource},
			{Field: "swr", Label: "SWR", Value: r.SWR, Source: r.SWRSource},
			{Field: "sie", Label: "SIE", Value: r.SIE, Source: r.SIESource},
		},
		Versions: versions(st.Versions),
		Cues:     []string{},
		Assets:   []Asset{},
	}
	for _, a := range st.Assets {
		kind, href, _ := strings.Cut(a, " ")
		f.Assets = append(f.Assets, Asset{Kind: kind, Href: href})
	}
	for _, s := range f.Settings {
		f.Overridden = f.Overridden || s.Source == admin.SourceOverride
	}
	timeout, _ := time.ParseDuration(r.Timeout)
	served := st.Hits + st.Misses + st.Stale + st.Errors
	f.Ratio = -1
	if served > 0 {
		f.Ratio = float64(st.Hits+st.Stale) / float64(served)
	}
	errRate := rate(st.FetchErrors, st.Fetches)

	slow := timeout > 0 && st.P99 > 0 && float64(st.P99) >= SlowShare*float64(timeout)
	failing := st.FetchErrors > 0 && errRate >= FailingRate
	if slow {
		f.Cues = append(f.Cues, CueSlow)
	}
	if failing {
		f.Cues = append(f.Cues, CueFailing)
	}
	if st.Breaker == "open" {
		f.Cues = append(f.Cues, CueOpen)
	}
	if len(f.Versions) > 1 {
		f.Cues = append(f.Cues, CueStray)
	}
	switch {
	case st.Breaker == "open":
		f.Status = StatusOpen
	case slow || failing || st.Breaker == "half-open":
		f.Status = StatusDegraded
	case served == 0 && st.Fetches == 0:
		f.Status = StatusIdle
	default:
		f.Status = StatusOK
	}

	c := map[string]string{
		"status":    statusLabel(f.Status),
		"ratio":     percent(f.Ratio),
		"served":    fmt.Sprintf("%s of %s from cache", count(st.Hits+st.Stale), count(served)),
		"p50":       latency(st.P50),
		"p99":       latency(st.P99),
		"timeout":   "limit " + latency(timeout),
		"errors":    percent(errRate),
		"timeouts":  percent(rate(st.Timeouts, st.Fetches)),
		"fetches":   count(st.Fetches) + plural(st.Fetches, " fetch", " fetches"),
		"degraded":  count(st.Errors) + " served fallback",
		"circuit":   circuitLabel(st.Breaker),
		"lasterror": "none",
		"lasterrat": "",
		"gen":       "generation " + strconv.FormatUint(r.Generation, 10),
		"overkeys":  "",
	}
	if st.OverKeys > 0 {
		c["overkeys"] = count(st.OverKeys) + plural(st.OverKeys, " answer", " answers") + " not cached: key bound reached"
	}
	for _, s := range f.Settings {
		c[s.Field] = s.Value
		c[s.Field+"-source"] = s.Source
	}
	if st.LastError != "" {
		c["lasterror"] = st.LastError
		c["lasterrat"] = ago(now.Sub(st.LastErrorAt)) + " · " + st.LastErrorAt.Format("15:04:05")
	}
	f.Cells = c
	return f
}

// versions sorts the versions seen, most answers first, and marks every
// one but the first as stray.
func versions(m map[string]uint64) []Version {
	vs := make([]Version, 0, len(m))
	for v, n := range m {
		vs = append(vs, Version{Version: v, Count: n})
	}
	slices.SortFunc(vs, func(a, b Version) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	for i := 1; i < len(vs); i++ {
		vs[i].Stray = true
	}
	return vs
}

// pages lists the site's pages by path with their slots in order; a page's
// status is its worst slot's.
func pages(site *config.Site, status map[string]string) []Page {
	ps := make([]Page, 0, len(site.Pages))
	for path, p := range site.Pages {
		pg := Page{Path: path, Title: p.Title, Layout: layoutOf(p), Status: StatusIdle}
		for i, s := range p.Slots() {
			pg.Slots = append(pg.Slots, Slot{Index: i + 1, Fragment: s.Fragment.Name, Primary: s.Primary || s.Fragment.Primary})
			if st := status[s.Fragment.Name]; severity(st) > severity(pg.Status) {
				pg.Status = st
			}
		}
		ps = append(ps, pg)
	}
	slices.SortFunc(ps, func(a, b Page) int { return strings.Compare(a.Path, b.Path) })
	return ps
}

// layoutOf names a page's layout when the composer says it.
func layoutOf(p *config.Page) string {
	if l, ok := any(p).(interface{ LayoutName() string }); ok {
		return l.LayoutName()
	}
	return ""
}

func severity(status string) int {
	switch status {
	case StatusOK:
		return 1
	case StatusDegraded:
		return 2
	case StatusOpen:
		return 3
	}
	return 0
}

func summaryCells(s Summary, updated string) map[string]string {
	return map[string]string{
		"fragments": count(uint64(s.Fragments)),
		"degraded":  count(uint64(s.Degraded)),
		"open":      count(uint64(s.Open)),
		"stray":     count(uint64(s.Stray)),
		"updated":   updated,
	}
}

func statusLabel(s string) string {
	switch s {
	case StatusOpen:
		return "circuit open"
	case StatusDegraded:
		return "degraded"
	case StatusIdle:
		return "idle"
	}
	return "ok"
}

func circuitLabel(b string) string {
	if b == "" {
		return "off"
	}
	return b
}

// rate is n out of of, or -1 (shown as a dash) when of is 0.
func rate(n, of uint64) float64 {
	if of == 0 {
		return -1
	}
	return float64(n) / float64(of)
}

func percent(r float64) string {
	switch {
	case r < 0:
		return "–"
	case r == 0:
		return "0%"
	case r == 1:
		return "100%"
	case r < 0.001:
		return "<0.1%"
	case r > 0.999:
		return ">99.9%"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
}

func latency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d <= 0:
		return "–"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
}

// count writes n with thin groups of three digits.
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d ago"
}
