package composer

import (
	"sync/atomic"

	"github.com/tessera-dev/tessera/composer/config"
)

// refusal is why a nested slot marker was not filled.
type refusal int

const (
	admitted refusal = iota - 1
	refusedDepth
	refusedCycle
	refusedUnknown
	refusedNotAllowed // the enclosing fragment's config does not name it
	refusedBadSlot
	refusedMarkers // over the markers one answer may place
	refusedSlots   // over the page's slots, all levels
	refusedBytes   // over the page's bytes
	nRefusals
)

var refusalNames = [nRefusals]string{"depth", "cycle", "unknown_fragment", "not_allowed", "bad_slot", "markers_per_answer", "slots_per_page", "page_bytes"}

func (r refusal) String() string { return refusalNames[r] }

// budget is what is left of one page's limits. The plan carries it; nested
// slots draw on it as they are planned, from the page's goroutines, hence
// atomic. It lives and dies with the page.
type budget struct {
	slots   atomic.Int64
	bytes   atomic.Int64
	refused [nRefusals]atomic.Int64
}

func newBudget(l config.Limits, pageSlots int) *budget {
	b := &budget{}
	b.slots.Store(int64(l.SlotsPerPage - pageSlots))
	b.bytes.Store(int64(l.PageBytes))
	return b
}

func (b *budget) refuse(why refusal) { b.refused[why].Add(1) }

// takeSlot reserves one nested slot; it reports false when none is left.
func (b *budget) takeSlot() bool { return b.slots.Add(-1) >= 0 }

// takeBytes reserves n bytes of page markup; it reports false when they
// do not fit, and then reserves nothing.
func (b *budget) takeBytes(n int) bool {
	if b.bytes.Add(-int64(n)) >= 0 {
		return true
	}
	b.bytes.Add(int64(n))
	return false
}
