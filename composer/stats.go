package composer

// FragmentStats counts a fragment's cache outcomes since the composer
// started, as also exported on /metrics.
type FragmentStats struct {
	Hits, Misses, Stale, Errors uint64
	// Fetches is how many upstream calls were made.
	Fetches uint64
}

// Stats returns the counts for the named fragment; an unknown name has
// zero counts.
func (c *Composer) Stats(name string) FragmentStats {
	c.m.mu.Lock()
	fm, ok := c.m.frags[name]
	c.m.mu.Unlock()
	if !ok {
		return FragmentStats{}
	}
	return FragmentStats{
		Hits:    fm.hit.Get(),
		Misses:  fm.miss.Get(),
		Stale:   fm.stale.Get(),
		Errors:  fm.error.Get(),
		Fetches: fm.fetches.Get(),
	}
}
