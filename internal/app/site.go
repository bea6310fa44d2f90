package app

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
)

// SiteOptions configure the whole site in one process: the built-in
// fragments and a composer pointed at them.
type SiteOptions struct {
	Composer  ComposerOptions
	Fragments FragmentsOptions
}

// Site is the whole site, running.
type Site struct {
	Composer  *Composer
	Fragments *Fragments
}

// StartSite starts the fragments, then the composer. Fragment URLs in the
// composer's config are pointed at the fragments' actual addresses, so
// that ports chosen at run time (":0" in tests) work.
func StartSite(o SiteOptions) (*Site, error) {
	// The shows service announces a new show by purging the shows
	// fragment in the composer's settings store, which every composer
	// watches; the composer starts after the fragments, so the hook reads
	// it late.
	var comp *Composer
	var mu sync.Mutex
	if o.Fragments.OnShowsChange == nil {
		o.Fragments.OnShowsChange = func(ctx context.Context) {
			mu.Lock()
			c := comp
			mu.Unlock()
			if c == nil {
				return
			}
			if _, err := c.Settings.Purge(ctx, "shows"); err != nil {
				c.log.Warn("announcing the new show failed; pages show it after the TTL", "fragment", "shows", "err", err)
			}
		}
	}
	frags, err := StartFragments(o.Fragments)
	if err != nil {
		return nil, err
	}
	env := o.Composer.Env
	if env == nil {
		env = o.Fragments.Secrets.Env(func(string) string { return "" })
	}
	o.Composer.Env = func(k string) string {
		for name := range frags.Addrs {
			if k == config.FragmentURLEnv(name) {
				if v := env(k); v != "" {
					return v
				}
				return frags.URL(name)
			}
		}
		return env(k)
	}
	c, err := StartComposer(o.Composer)
	if err != nil {
		return nil, errors.Join(err, frags.Close())
	}
	mu.Lock()
	comp = c
	mu.Unlock()
	return &Site{Composer: c, Fragments: frags}, nil
}

// Drain drains the composer (see Composer.Drain), then stops the fragments.
func (s *Site) Drain(ctx context.Context, d time.Duration) error {
	return errors.Join(s.Composer.Drain(ctx, d), s.Fragments.Close())
}

// Close stops the composer, then the fragments.
func (s *Site) Close() error {
	return errors.Join(s.Composer.Close(), s.Fragments.Close())
}

// DisplayAddr is the composer's address as a person would type it: an
// unspecified host is shown as 127.0.0.1.
func (c *Composer) DisplayAddr() string { return loopbackAddr(c.Addr()) }

// loopbackAddr turns a listening address into one to connect to: an
// unspecified host (":8080", "[::]:8080") becomes 127.0.0.1.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
