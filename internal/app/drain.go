package app

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// EnvDrain holds how long a composer keeps serving after SIGTERM while
// its balancers take it out (a duration such as 5s; 0s stops at once).
const EnvDrain = "TESSERA_DRAIN"

// DefaultDrain is the drain period when TESSERA_DRAIN is unset: longer
// than a balancer's readiness probe period plus its reaction time.
const DefaultDrain = 5 * time.Second

// DrainPeriod reads TESSERA_DRAIN through getenv, falling back to
// DefaultDrain.
func DrainPeriod(getenv func(string) string) (time.Duration, error) {
	v := getenv(EnvDrain)
	if v == "" {
		return DefaultDrain, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration (use e.g. 5s, 500ms, 0s)", EnvDrain, v)
	}
	return d, nil
}

var readyzPath = []byte("/readyz")

// drainable answers /readyz with 503 once the composer drains, and asks
// every client to close its connection after the answer, so that balancers
// holding keep-alive connections open new ones to other replicas.
func (c *Composer) drainable(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if !c.draining.Load() {
			h(rc)
			return
		}
		rc.SetConnectionClose()
		if bytes.Equal(rc.Path(), readyzPath) {
			rc.SetStatusCode(fasthttp.StatusServiceUnavailable)
			rc.SetContentType("application/json")
			rc.SetBodyString(`{"status":"draining"}` + "\n")
			return
		}
		h(rc)
	}
}

// Draining reports whether Drain has begun.
func (c *Composer) Draining() bool { return c.draining.Load() }

// Drain takes the composer out of service the way a balancer expects:
// /readyz answers 503 at once while pages are still served for d (or until
// ctx is done, e.g. on a second signal); then the listener closes,
// in-flight pages finish, and the composer closes as Close does.
func (c *Composer) Drain(ctx context.Context, d time.Duration) error {
	c.draining.Store(true)
	c.log.Info("draining: readiness answers 503; still serving pages", "dur", d.String())
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	case <-c.done:
		t.Stop()
	}
	c.log.Info("drained: no longer accepting; finishing in-flight pages")
	return c.Close()
}
