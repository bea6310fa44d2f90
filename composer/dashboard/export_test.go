package dashboard

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer"
)

// NewWithStats returns the dashboard showing the given counters, at the
// given time, instead of the composer's.
func NewWithStats(o Options, stats func(string) composer.FragmentStats, now time.Time) (fasthttp.RequestHandler, error) {
	d, err := newDashboard(o)
	if err != nil {
		return nil, err
	}
	d.src.stats = stats
	d.src.now = func() time.Time { return now }
	return d.handler(), nil
}

// SafeNext exposes the check of the return path after signing in.
var SafeNext = safeNext
