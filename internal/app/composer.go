// Package app wires Tessera's processes from their configuration: the
// composer with its cache, and the built-in fragment services. The cmd/
// mains parse flags and call into it; tests use it to start real servers on
// free ports.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/dashboard"
	"github.com/tessera-dev/tessera/composer/front"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/composer/tiered"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/telemetry"
	"github.com/tessera-dev/tessera/web"
)

// EnvAdminToken holds the bearer token of the admin API and dashboard.
const EnvAdminToken = "TESSERA_ADMIN_TOKEN"

// WarmConns is how many Redis connections (per master) a composer opens
// before it listens.
const WarmConns = 16

// ComposerOptions configure a composer process.
type ComposerOptions struct {
	// ConfigPath is the YAML config; empty means the built-in site.
	ConfigPath string
	// ConfigYAML, when set, is used instead of reading ConfigPath (layout
	// files are then read relative to ConfigDir).
	ConfigYAML []byte
	ConfigDir  string
	// Addr overrides the config's listen address.
	Addr string
	// RedisURL overrides the config's redis_url (after REDIS_URL).
	RedisURL string
	// Env reads environment variables (secrets, overrides); nil is os.Getenv.
	Env func(string) string
	// AccessLog writes one info line per page.
	AccessLog bool
	// Watch reloads ConfigPath (and layouts beside it) when they change.
	Watch bool
	// MemoryBytes bounds the in-process cache (0 = memcache default).
	MemoryBytes uint64
	Logger      *slog.Logger
}

// Composer is a running composer process.
type Composer struct {
	*composer.Composer
	ln  net.Listener
	srv *fasthttp.Server
	rdb redis.UniversalClient
	mem *memcache.Cache
	// Settings is the run-time tuning store (TTL overrides, purges) this
	// composer watches: Redis when configured, else in-process.
	Settings *settings.Store
	wcancel  context.CancelFunc
	wdone    chan struct{}
	tel      *telemetry.Telemetry
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	wwait    func()
	log      *slog.Logger
	draining atomic.Bool
}

// LoadSite reads, checks and compiles a composer config.
func LoadSite(o ComposerOptions) (*config.Config, *config.Site, error) {
	env := o.Env
	if env == nil {
		env = os.Getenv
	}
	file, src, dir := "tessera.yaml (built-in)", o.ConfigYAML, o.ConfigDir
	if src == nil && o.ConfigPath != "" {
		b, err := os.ReadFile(o.ConfigPath)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		file, src, dir = o.ConfigPath, b, filepath.Dir(o.ConfigPath)
	}
	if src == nil {
		src = config.Default
	}
	cfg, err := config.Parse(file, src)
	if err != nil {
		return nil, nil, err
	}
	cfg.ApplyEnv(env)
	if o.RedisURL != "" {
		cfg.RedisURL = o.RedisURL
	}
	if o.Addr != "" {
		cfg.Listen = o.Addr
	}
	site, err := cfg.Compile(file, src, dir, env)
	if err != nil {
		return nil, nil, err
	}
	return cfg, site, nil
}

// StartComposer loads the config, connects the cache and starts serving.
// It returns once the listener is bound.
func StartComposer(o ComposerOptions) (*Composer, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "composer")
	cfg, site, err := LoadSite(o)
	if err != nil {
		return nil, err
	}
	c := &Composer{log: log, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = c.Close()
		}
	}()
	set := metrics.NewSet()
	mem, err := memcache.New(o.MemoryBytes)
	if err != nil {
		return nil, err
	}
	c.mem = mem
	var cache composer.Cache = mem
	var ready func(context.Context) error
	if cfg.RedisURL != "" {
		rdb, err := redisconn.NewClient(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		c.rdb = rdb
		rc := rediscache.New(rdb, rediscache.Options{})
		cache, ready = rc, rc.Check
		if site.NearCache > 0 {
			cache = tiered.New(mem, rc, site.NearCache)
		}
		// Dial the pool before the first pages, so that the first burst
		// after a start does not time out waiting on connections.
		pctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if err := rc.Warm(pctx, WarmConns); err != nil {
			log.Warn("redis unreachable at start; serving without the shared cache until it answers", "err", err)
		}
		cancel()
	}
	env := o.Env
	if env == nil {
		env = os.Getenv
	}
	tel, err := telemetry.New(telemetry.Options{
		OTLPEndpoint: telemetry.TracesEndpoint(env),
		ServiceName:  env(telemetry.EnvServiceName),
		AccessLog:    o.AccessLog,
		Logger:       o.Logger.With("component", "telemetry"),
	})
	if err != nil {
		return nil, err
	}
	c.tel = tel
	comp, err := composer.New(composer.Options{Site: site, Cache: cache, Logger: log, Metrics: set, Observer: tel})
	if err != nil {
		return nil, err
	}
	c.Composer = comp

	slog := o.Logger.With("component", "settings")
	if c.rdb != nil {
		c.Settings = settings.NewRedis(c.rdb, settings.Options{Logger: slog})
	} else {
		c.Settings = settings.NewMemory(settings.Options{Logger: slog})
	}
	lctx, lcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	if t, err := c.Settings.Load(lctx); err == nil {
		comp.SetTuning(t) // the first pages already see the tuning
	}
	lcancel()
	wctx, wcancel := context.WithCancel(context.Background())
	c.wcancel, c.wdone = wcancel, make(chan struct{})
	go func() {
		defer close(c.wdone)
		c.Settings.Watch(wctx, comp.SetTuning)
	}()
	// The admin's Host names: those of the environment and the listen
	// address, and the config's admin.hosts, which a reload may change.
	fixedHosts := AdminHosts(env, cfg.Listen)
	adminHosts := func(s *config.Site) []string { return append(slices.Clip(fixedHosts), s.AdminHosts...) }
	adminLog := o.Logger.With("component", "admin")
	sessions := admin.NewSessions(env(EnvAdminToken), admin.SessionOptions{
		Hosts: adminHosts(site), Revocations: c.Settings, Logger: adminLog,
	})
	adminH, err := admin.New(dashboard.Mount(admin.Options{
		Composer: comp, Settings: c.Settings, Token: env(EnvAdminToken), Logger: adminLog, Sessions: sessions,
	}))
	if err != nil {
		return nil, err
	}
	h := front.Handler(front.Options{Composer: comp, Static: web.Static, Metrics: set, Ready: ready, Admin: adminH, Logger: log})
	c.srv = front.NewServer(c.drainable(h), log)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("composer: listen: %w", err)
	}
	c.ln = ln
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		c.err = front.Serve(ctx, c.srv, ln)
		close(c.done)
	}()
	if o.Watch && o.ConfigPath != "" && o.ConfigYAML == nil {
		apply := func(s *config.Site) {
			comp.SetSite(s)
			sessions.SetHosts(adminHosts(s))
		}
		wait, err := watchConfig(ctx, o, apply, log)
		if err != nil {
			return nil, fmt.Errorf("composer: watch config: %w", err)
		}
		c.wwait = wait
	}
	log.Info("composer listening", "addr", ln.Addr().String(), "pages", len(site.Pages), "fragments", len(site.Fragments), "cache", cacheKind(cfg.RedisURL))
	ok = true
	return c, nil
}

func cacheKind(redisURL string) string {
	if redisURL == "" {
		return "memory"
	}
	return "redis"
}

// Addr is the address the composer listens on.
func (c *Composer) Addr() string { return c.ln.Addr().String() }

// Wait blocks until the server stops and returns its error.
func (c *Composer) Wait() error {
	<-c.done
	return c.err
}

// Close stops serving (gracefully), waits for background cache work and
// closes the cache. It is safe after a partial start.
func (c *Composer) Close() error {
	var errs []error
	if c.cancel != nil {
		c.cancel()
		errs = append(errs, c.Wait())
		c.cancel = nil
		if c.wwait != nil {
			c.wwait()
		}
	}
	if c.Composer != nil {
		errs = append(errs, c.Composer.Close())
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
	errs = append(errs, c.tel.Close(tctx)) // nil-safe
	tcancel()
	if c.wcancel != nil {
		c.wcancel()
		<-c.wdone
		c.wcancel = nil
	}
	if c.rdb != nil {
		errs = append(errs, c.rdb.Close())
	}
	if c.mem != nil {
		errs = append(errs, c.mem.Close())
	}
	return errors.Join(errs...)
}
