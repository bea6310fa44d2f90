package settings

import "time"

// Tuning is the run-time layer over the config: TTL overrides set by an
// operator, and purge generations. Every composer on one store applies the
// same Tuning; it is swapped in whole.
type Tuning struct {
	// Overrides are per-fragment freshness settings; a nil field keeps the
	// configured value.
	Overrides map[string]Override `json:"overrides,omitempty"`
	// Generations are bumped to purge every cached copy of a fragment: they
	// are part of the cache key, so old copies are never read again and
	// expire on their own.
	Generations map[string]uint64 `json:"generations,omitempty"`
}

// Override is an operator's freshness setting for one fragment.
type Override struct {
	TTL *time.Duration `json:"ttl,omitempty"`
	SWR *time.Duration `json:"swr,omitempty"`
	SIE *time.Duration `json:"sie,omitempty"`
}

// Generation is a fragment's purge generation (0 when never purged).
func (t *Tuning) Generation(name string) uint64 { return t.Generations[name] }
