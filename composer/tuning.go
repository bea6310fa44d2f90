package composer

import "time"

// Tuning is the run-time layer over the config: TTL overrides set by an
// operator, and purge generations. It is shared by all composers through
// the settings store and swapped in whole with SetTuning.
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

func (t *Tuning) apply(name string, fr *freshness) {
	o, ok := t.Overrides[name]
	if !ok {
		return
	}
	if o.TTL != nil {
		fr.ttl = *o.TTL
	}
	if o.SWR != nil {
		fr.swr = *o.SWR
	}
	if o.SIE != nil {
		fr.sie = *o.SIE
	}
}

func (t *Tuning) generation(name string) uint64 { return t.Generations[name] }

// SetTuning swaps in new run-time settings; they apply to the next lookup.
func (c *Composer) SetTuning(t *Tuning) {
	if t == nil {
		t = &Tuning{}
	}
	c.tuning.Store(t)
}

// Tuning returns the run-time settings in force.
func (c *Composer) Tuning() *Tuning { return c.tuning.Load() }
