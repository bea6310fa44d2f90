package composer

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// meters holds the composer's Prometheus series. Series are created once per
// fragment or page and reused, so the hot path does not build label strings.
type meters struct {
	set *metrics.Set
	mu  sync.Mutex // serialises creation; reads are lock-free
	// frags and pages hold *fragMeters and *PrometheusHistogram by name.
	frags sync.Map
	pages sync.Map
	redis *metrics.Counter
	// refused counts nested slot markers left empty, by reason.
	refused [nRefusals]*metrics.Counter
	// panics counts panics recovered on any of the composer's goroutines.
	panics *metrics.Counter
}

type fragMeters struct {
	fetches                 *metrics.Counter
	hit, miss, stale, error *metrics.Counter
	served                  [servedEmpty + 1]*metrics.Counter // by servedAs; [0] unused
	fetchSeconds            *metrics.PrometheusHistogram
	errMu                   sync.Mutex
	errs                    map[string]*metrics.Counter
	set                     *metrics.Set
	name                    string
	// ewma is a low-biased moving average of how long the fragment takes
	// to answer (nanoseconds): it falls fast and rises slowly, so it tracks
	// the fragment's own latency rather than queueing under load. It
	// chooses between streaming and buffering a page.
	ewma atomic.Int64
	// overKeys counts answers not stored because the fragment's key
	// bound was reached.
	overKeys *metrics.Counter
	// assetsRefused counts Link values naming assets that were refused.
	assetsRefused *metrics.Counter

	recMu     sync.Mutex
	durs      [256]time.Duration // recent upstream answer times, a ring
	ndurs     int
	versions  map[string]uint64 // answers per X-Fragment-Version
	lastErr   string
	lastErrAt time.Time
}

// maxVersions bounds how many distinct versions are remembered.
const maxVersions = 32

// record notes one upstream answer: its time, its version or its error.
func (fm *fragMeters) record(d time.Duration, version string, err error) {
	fm.recMu.Lock()
	defer fm.recMu.Unlock()
	fm.durs[fm.ndurs%len(fm.durs)] = d
	fm.ndurs++
	if err != nil {
		fm.lastErr, fm.lastErrAt = err.Error(), time.Now()
		return
	}
	if version == "" {
		version = "unknown"
	}
	if fm.versions == nil {
		fm.versions = make(map[string]uint64)
	}
	if _, ok := fm.versions[version]; ok || len(fm.versions) < maxVersions {
		fm.versions[version]++
	}
}

// observe folds one answer time into the average: weight 1/2 when faster,
// 1/32 when slower.
func (fm *fragMeters) observe(d time.Duration) {
	for {
		old := fm.ewma.Load()
		next := int64(d)
		switch {
		case old == 0:
		case int64(d) < old:
			next = old + (int64(d)-old)/2
		default:
			next = old + (int64(d)-old)/32
		}
		if fm.ewma.CompareAndSwap(old, next) {
			return
		}
	}
}

// typical is the fragment's moving-average answer time; a fragment never
// fetched yet counts as slow, so a first page streams.
func (fm *fragMeters) typical() time.Duration {
	v := fm.ewma.Load()
	if v == 0 {
		return time.Hour
	}
	return time.Duration(v)
}

func newMeters(set *metrics.Set) *meters {
	m := &meters{
		set:    set,
		redis:  set.GetOrCreateCounter("tessera_cache_errors_total"),
		panics: set.GetOrCreateCounter("tessera_panics_total"),
	}
	for why := range nRefusals {
		m.refused[why] = set.GetOrCreateCounter(`tessera_nested_refused_total{reason="` + why.String() + `"}`)
	}
	return m
}

func (m *meters) fragment(name string) *fragMeters {
	if fm, ok := m.frags.Load(name); ok {
		return fm.(*fragMeters)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fm, ok := m.frags.Load(name); ok {
		return fm.(*fragMeters)
	}
	l := `{fragment="` + name + `"`
	res := func(r cacheResult) *metrics.Counter {
		return m.set.GetOrCreateCounter(`tessera_cache_results_total` + l + `,result="` + r.String() + `"}`)
	}
	fm := &fragMeters{
		fetches:       m.set.GetOrCreateCounter(`tessera_fragment_fetches_total` + l + `}`),
		hit:           res(resultHit),
		miss:          res(resultMiss),
		stale:         res(resultStale),
		error:         res(resultError),
		fetchSeconds:  m.set.GetOrCreatePrometheusHistogram(`tessera_fragment_fetch_seconds` + l + `}`),
		overKeys:      m.set.GetOrCreateCounter(`tessera_cache_keys_over_bound_total` + l + `}`),
		assetsRefused: m.set.GetOrCreateCounter(`tessera_fragment_assets_refused_total` + l + `}`),
		errs:          map[string]*metrics.Counter{},
		set:           m.set,
		name:          name,
	}
	for _, k := range []servedAs{servedStale, servedFallback, servedEmpty} {
		fm.served[k] = m.set.GetOrCreateCounter(`tessera_fragment_degraded_total` + l + `,served="` + k.String() + `"}`)
	}
	m.frags.Store(name, fm)
	return fm
}

// drop removes a fragment's series, once it is no longer configured.
func (m *meters) drop(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.frags.LoadAndDelete(name)
	if !ok {
		return
	}
	fm := v.(*fragMeters)
	l := `{fragment="` + name + `"`
	names := []string{`tessera_fragment_fetches_total` + l + `}`, `tessera_fragment_fetch_seconds` + l + `}`, `tessera_cache_keys_over_bound_total` + l + `}`,
		`tessera_fragment_assets_refused_total` + l + `}`}
	for _, r := range []cacheResult{resultHit, resultMiss, resultStale, resultError} {
		names = append(names, `tessera_cache_results_total`+l+`,result="`+r.String()+`"}`)
	}
	for _, k := range []servedAs{servedStale, servedFallback, servedEmpty} {
		names = append(names, `tessera_fragment_degraded_total`+l+`,served="`+k.String()+`"}`)
	}
	fm.errMu.Lock()
	for reason := range fm.errs {
		names = append(names, `tessera_fragment_errors_total`+l+`,reason="`+reason+`"}`)
	}
	fm.errMu.Unlock()
	for _, n := range names {
		m.set.UnregisterMetric(n)
	}
}

func (fm *fragMeters) degraded(s servedAs) {
	if s != servedFresh {
		fm.served[s].Inc()
	}
}

func (fm *fragMeters) result(r cacheResult) {
	switch r {
	case resultHit:
		fm.hit.Inc()
	case resultMiss:
		fm.miss.Inc()
	case resultStale:
		fm.stale.Inc()
	case resultError:
		fm.error.Inc()
	}
}

func (fm *fragMeters) fetchError(reason string) {
	fm.errMu.Lock()
	c, ok := fm.errs[reason]
	if !ok {
		c = fm.set.GetOrCreateCounter(`tessera_fragment_errors_total{fragment="` + fm.name + `",reason="` + reason + `"}`)
		fm.errs[reason] = c
	}
	fm.errMu.Unlock()
	c.Inc()
}

func (m *meters) page(path string) *metrics.PrometheusHistogram {
	if h, ok := m.pages.Load(path); ok {
		return h.(*metrics.PrometheusHistogram)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.pages.Load(path); ok {
		return h.(*metrics.PrometheusHistogram)
	}
	h := m.set.GetOrCreatePrometheusHistogram(`tessera_page_seconds{page=` + strconv.Quote(path) + `}`)
	m.pages.Store(path, h)
	return h
}
