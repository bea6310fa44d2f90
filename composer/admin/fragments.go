package admin

import (
	"sort"
	"time"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/settings"
)

// Where an effective setting comes from.
const (
	SourceOverride = "override" // set at run time
	SourceConfig   = "config"   // the config file
	SourceFragment = "fragment" // the fragment's own Cache-Control
)

// Fragment is one fragment as the API shows it: its effective cache
// settings and its counters since the composer started. Durations are
// written as settings.FormatDuration does ("1m", "1h30m", "500ms"); a
// setting whose source is "fragment" is decided per response by the
// fragment's Cache-Control and shown empty.
type Fragment struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Auth is the kind of authentication only (none, bearer, hmac).
	Auth       string   `json:"auth"`
	TTL        string   `json:"ttl"`
	TTLSource  string   `json:"ttl_source"`
	SWR        string   `json:"swr"`
	SWRSource  string   `json:"swr_source"`
	SIE        string   `json:"sie"`
	SIESource  string   `json:"sie_source"`
	Timeout    string   `json:"timeout"`
	Primary    bool     `json:"primary"`
	Vary       []string `json:"vary"`
	Pages      []string `json:"pages"`
	Generation uint64   `json:"generation"`
	Hits       uint64   `json:"hits"`
	Misses     uint64   `json:"misses"`
	Stale      uint64   `json:"stale"`
	Errors     uint64   `json:"errors"`
}

// Fragments returns every fragment of c's site, by name.
func Fragments(c Composer) []Fragment {
	site, tun := c.Site(), c.Tuning()
	rows := make([]Fragment, 0, len(site.Fragments))
	for _, f := range site.Fragments {
		rows = append(rows, row(c, site, tun, f))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

// FragmentByName returns one fragment of c's site.
func FragmentByName(c Composer, name string) (Fragment, bool) {
	site := c.Site()
	f, ok := site.Fragments[name]
	if !ok {
		return Fragment{}, false
	}
	return row(c, site, c.Tuning(), f), true
}

func row(c Composer, site *config.Site, tun *composer.Tuning, f *config.Fragment) Fragment {
	o := tun.Overrides[f.Name]
	st := c.Stats(f.Name)
	r := Fragment{
		Name:       f.Name,
		URL:        f.URL,
		Auth:       f.Auth.String(),
		Timeout:    settings.FormatDuration(f.Timeout),
		Primary:    f.Primary,
		Vary:       append([]string{}, f.Vary...),
		Pages:      pagesUsing(site, f.Name),
		Generation: tun.Generations[f.Name],
		Hits:       st.Hits,
		Misses:     st.Misses,
		Stale:      st.Stale,
		Errors:     st.Errors,
	}
	r.TTL, r.TTLSource = effective(o.TTL, f.TTL, f.TTLSet)
	r.SWR, r.SWRSource = effective(o.SWR, f.SWR, f.SWR > 0)
	r.SIE, r.SIESource = effective(o.SIE, f.SIE, f.SIE > 0)
	return r
}

// effective mirrors the composer's precedence: override, config, fragment.
func effective(override *time.Duration, configured time.Duration, set bool) (string, string) {
	switch {
	case override != nil:
		return settings.FormatDuration(*override), SourceOverride
	case set:
		return settings.FormatDuration(configured), SourceConfig
	}
	return "", SourceFragment
}

func pagesUsing(site *config.Site, name string) []string {
	pages := []string{}
	for path, p := range site.Pages {
		for _, s := range p.Slots() {
			if s.Fragment.Name == name {
				pages = append(pages, path)
				break
			}
		}
	}
	sort.Strings(pages)
	return pages
}
