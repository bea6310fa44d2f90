package composer

import "github.com/tessera-dev/tessera/composer/settings"

// Tuning is the run-time layer over the config (TTL overrides, purge
// generations), kept by the settings store and swapped in with SetTuning.
type Tuning = settings.Tuning

// Override is an operator's freshness setting for one fragment.
type Override = settings.Override

// applyTuning lays t's override for the fragment name over fr.
func applyTuning(t *Tuning, name string, fr *freshness) {
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

// SetTuning swaps in new run-time settings; they apply to the next lookup.
func (c *Composer) SetTuning(t *Tuning) {
	if t == nil {
		t = &Tuning{}
	}
	c.tuning.Store(t)
}

// Tuning returns the run-time settings in force.
func (c *Composer) Tuning() *Tuning { return c.tuning.Load() }
