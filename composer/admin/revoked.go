package admin

import (
	"sync"
	"time"
)

// maxRevoked bounds the sign-outs a process remembers. Only a holder of
// the admin token can sign in, so reaching it takes the token; then the
// sessions closest to expiring are forgotten first.
const maxRevoked = 10000

// revokedSet is the sign-outs made in this process, each kept until the
// session would have expired. It is safe for concurrent use.
type revokedSet struct {
	mu  sync.Mutex
	max int
	ids map[string]time.Time // id -> the session's expiry
}

func newRevokedSet(max int) *revokedSet {
	return &revokedSet{max: max, ids: map[string]time.Time{}}
}

func (r *revokedSet) add(id string, exp, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) >= r.max {
		for k, e := range r.ids {
			if !now.Before(e) {
				delete(r.ids, k)
			}
		}
	}
	for len(r.ids) >= r.max {
		first, firstExp := "", time.Time{}
		for k, e := range r.ids {
			if first == "" || e.Before(firstExp) {
				first, firstExp = k, e
			}
		}
		delete(r.ids, first)
	}
	r.ids[id] = exp
}

func (r *revokedSet) has(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp, ok := r.ids[id]
	if ok && !now.Before(exp) {
		delete(r.ids, id)
		return false
	}
	return ok
}
