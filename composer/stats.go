package composer

import (
	"slices"
	"time"
)

// FragmentStats counts a fragment's cache outcomes since the composer
// started, as also exported on /metrics.
type FragmentStats struct {
	Hits, Misses, Stale, Errors uint64
	// Fetches is how many upstream calls were made.
	Fetches uint64
	// Timeouts and FetchErrors count failed upstream calls (timeouts are
	// also fetch errors).
	Timeouts, FetchErrors uint64
	// P50 and P99 are over the last 256 upstream answer times.
	P50, P99 time.Duration
	// Versions counts answers per X-Fragment-Version since start.
	Versions map[string]uint64
	// LastError is the latest upstream failure, at LastErrorAt.
	LastError   string
	LastErrorAt time.Time
	// Breaker is the circuit state: closed, open, half-open, or "".
	Breaker string
	// OverKeys counts answers served but not cached because the
	// fragment's key bound was reached.
	OverKeys uint64
	// Assets are the stylesheets and scripts the fragment declared in its
	// latest answer, as "stylesheet HREF" or "script HREF".
	Assets []string
}

// Stats returns the counts for the named fragment; an unknown name has
// zero counts.
func (c *Composer) Stats(name string) FragmentStats {
	v, ok := c.m.frags.Load(name)
	if !ok {
		return FragmentStats{}
	}
	fm := v.(*fragMeters)
	st := FragmentStats{
		Hits:     fm.hit.Get(),
		Misses:   fm.miss.Get(),
		Stale:    fm.stale.Get(),
		Errors:   fm.error.Get(),
		Fetches:  fm.fetches.Get(),
		OverKeys: fm.overKeys.Get(),
		Breaker:  c.BreakerState(name),
		Assets:   c.Assets(name),
	}
	fm.errMu.Lock()
	for reason, ctr := range fm.errs {
		if reason == "circuit_open" {
			continue
		}
		st.FetchErrors += ctr.Get()
		if reason == "timeout" {
			st.Timeouts += ctr.Get()
		}
	}
	fm.errMu.Unlock()
	fm.recMu.Lock()
	n := min(fm.ndurs, len(fm.durs))
	durs := make([]time.Duration, n)
	copy(durs, fm.durs[:n])
	st.LastError, st.LastErrorAt = fm.lastErr, fm.lastErrAt
	if len(fm.versions) > 0 {
		st.Versions = make(map[string]uint64, len(fm.versions))
		for v, k := range fm.versions {
			st.Versions[v] = k
		}
	}
	fm.recMu.Unlock()
	if n > 0 {
		slices.Sort(durs)
		st.P50 = durs[(n-1)*50/100]
		st.P99 = durs[(n-1)*99/100]
	}
	return st
}
