package composer

// lookup is step 2: every key of slots in one cache round trip. A failing
// cache counts as all misses (the page is then fetched directly); entries
// fetched but not yet visible in the cache are taken from recent.
func (r *pageRun) lookup(slots []plannedSlot) []*Entry {
	c := r.c
	keys := make([]string, len(slots))
	for i := range slots {
		keys[i] = slots[i].key
	}
	entries, err := c.cache.GetMulti(r.ctx, keys)
	if err != nil {
		c.m.redis.Inc()
		c.log.Debug("cache lookup failed", "err", err, "page", r.pl.page.Path)
	}
	if len(entries) != len(keys) {
		entries = make([]*Entry, len(keys))
	}
	if c.nRecent.Load() > 0 {
		for i, e := range entries {
			if e == nil {
				entries[i] = c.recentEntry(keys[i])
			}
		}
	}
	return entries
}

func (c *Composer) recentEntry(key string) *Entry {
	if v, ok := c.recent.Load(key); ok {
		return v.(*Entry)
	}
	return nil
}
