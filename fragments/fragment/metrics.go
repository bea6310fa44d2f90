package fragment

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// serverMetrics is one service's metrics, in a set of its own so that
// several fragments can share a process without sharing counters.
type serverMetrics struct {
	set      *metrics.Set
	name     string
	render   *metrics.PrometheusHistogram
	authFail *metrics.Counter
	panics   *metrics.Counter
}

func newServerMetrics(name string) *serverMetrics {
	set := metrics.NewSet()
	label := `{fragment=` + strconv.Quote(name) + `}`
	return &serverMetrics{
		set:      set,
		name:     name,
		render:   set.NewPrometheusHistogram("tessera_fragment_render_seconds" + label),
		authFail: set.NewCounter("tessera_fragment_auth_failures_total" + label),
		panics:   set.NewCounter("tessera_fragment_panics_total" + label),
	}
}

func (m *serverMetrics) request(route string, status int) {
	m.set.GetOrCreateCounter(fmt.Sprintf("tessera_fragment_requests_total{fragment=%q,route=%q,code=\"%d\"}", m.name, route, status)).Inc()
	if status >= 500 {
		m.set.GetOrCreateCounter(fmt.Sprintf("tessera_fragment_errors_total{fragment=%q,route=%q}", m.name, route)).Inc()
	}
}

func (m *serverMetrics) rendered(d time.Duration) { m.render.Update(d.Seconds()) }
func (m *serverMetrics) authFailure()             { m.authFail.Inc() }
func (m *serverMetrics) panicked()                { m.panics.Inc() }
func (m *serverMetrics) write(w io.Writer)        { m.set.WritePrometheus(w) }
