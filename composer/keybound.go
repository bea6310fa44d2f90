package composer

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
)

// keyBound caps the distinct cache keys one fragment stores per window,
// when a request value with no allowlist (a {story}, a free query input)
// is part of its keys: without it every made-up URL would mint a key kept
// for the TTL and the stale windows. It remembers a hash per key admitted
// in the current window, at most max of them, so its memory is bounded
// whatever the requests; a window starts afresh once it is as old as the
// entries it admits may live, so at most twice max keys admitted through
// it are live at once. It is safe for concurrent use; a nil keyBound
// admits everything.
type keyBound struct {
	max  int
	seed maphash.Seed

	mu    sync.Mutex
	start time.Time
	seen  map[uint64]struct{}
}

// newKeyBound is f's bound, nil when every input it varies by has an
// allowlist (its keys are bounded by the config already).
func newKeyBound(f *config.Fragment) *keyBound {
	if f.MaxKeys <= 0 {
		return nil
	}
	return &keyBound{max: f.MaxKeys, seed: maphash.MakeSeed()}
}

// admit reports whether key may be stored at now for keep: a key already
// admitted in this window always may, a new one while fewer than max were.
func (b *keyBound) admit(key string, now time.Time, keep time.Duration) bool {
	if b == nil {
		return true
	}
	h := maphash.String(b.seed, key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil || now.Sub(b.start) >= keep || now.Before(b.start) {
		clear(b.seen)
		if b.seen == nil {
			b.seen = make(map[uint64]struct{}, min(b.max, 64))
		}
		b.start = now
	}
	if _, ok := b.seen[h]; ok {
		return true
	}
	if len(b.seen) >= b.max {
		return false
	}
	b.seen[h] = struct{}{}
	return true
}

// mayStore reports whether an answer under key may be stored for keep; one
// refused by the fragment's key bound is served but not cached, and
// counted.
func (fr *fragRuntime) mayStore(key string, now time.Time, keep time.Duration) bool {
	if fr.keys.admit(key, now, keep) {
		return true
	}
	fr.m.overKeys.Inc()
	return false
}
