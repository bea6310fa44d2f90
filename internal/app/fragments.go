package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/fragments/headlines"
	"github.com/tessera-dev/tessera/fragments/shows"
	"github.com/tessera-dev/tessera/fragments/topbar"
	"github.com/tessera-dev/tessera/fragments/weather"
)

// Environment variables holding the secrets shared by the composer and the
// fragment services.
const (
	EnvWeatherToken      = "TESSERA_WEATHER_TOKEN"
	EnvShowsSecret       = "TESSERA_SHOWS_SECRET"
	EnvShowsEditorToken  = "TESSERA_SHOWS_EDITOR_TOKEN"
	EnvShowsStore        = "TESSERA_SHOWS_STORE"
	DefaultShowsStore    = "./tessera-data/shows-added.jsonl"
	DefaultHeadlinesAddr = ":8081"
	DefaultWeatherAddr   = ":8082"
	DefaultShowsAddr     = ":8083"
	DefaultTopbarAddr    = ":8084"
)

// Secrets are the credentials of the built-in fragments: a bearer token for
// weather, an HMAC key for shows, and the editors' token for adding shows.
type Secrets struct {
	WeatherToken     string
	ShowsSecret      string
	ShowsEditorToken string
	// Generated lists the secrets that were not in the environment and
	// were made up for this process.
	Generated []string
}

// DevSecrets reads the secrets from the environment and makes up any that
// are missing, so that the all-in-one process runs on a bare machine. Made
// up secrets are random per start and never printed.
func DevSecrets(getenv func(string) string) Secrets {
	var s Secrets
	pick := func(env string) string {
		if v := getenv(env); v != "" {
			return v
		}
		s.Generated = append(s.Generated, env)
		var b [24]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	s.WeatherToken = pick(EnvWeatherToken)
	s.ShowsSecret = pick(EnvShowsSecret)
	s.ShowsEditorToken = pick(EnvShowsEditorToken)
	return s
}

// Env overlays the secrets on getenv, for the composer's config.
func (s Secrets) Env(getenv func(string) string) func(string) string {
	return func(k string) string {
		switch k {
		case EnvWeatherToken:
			return s.WeatherToken
		case EnvShowsSecret:
			return s.ShowsSecret
		case EnvShowsEditorToken:
			return s.ShowsEditorToken
		}
		return getenv(k)
	}
}

// FragmentsOptions configure the built-in fragment services run in one
// process.
type FragmentsOptions struct {
	// Addresses; empty means the defaults (:8081, :8082, :8083).
	HeadlinesAddr, WeatherAddr, ShowsAddr, TopbarAddr string
	Secrets                                           Secrets
	// ShowsStore is the file that keeps added shows.
	ShowsStore string
	// OnShowsChange is called after a show is added.
	OnShowsChange func(ctx context.Context)
	Logger        *slog.Logger
}

// Fragments are the built-in fragment services, running.
type Fragments struct {
	// Addrs maps a fragment name to its listening address.
	Addrs   map[string]string
	cancel  context.CancelFunc
	cancels map[string]context.CancelFunc
	dones   map[string]chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

// StartFragments starts headlines, weather, shows and the top bar. It returns once all
// three listen.
func StartFragments(o FragmentsOptions) (*Fragments, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(a, d string) string {
		if a == "" {
			return d
		}
		return a
	}
	hc := headlines.DefaultConfig()
	wc := weather.DefaultConfig()
	wc.Token = o.Secrets.WeatherToken
	sc := shows.DefaultConfig()
	sc.Secret = []byte(o.Secrets.ShowsSecret)
	sc.EditorToken = o.Secrets.ShowsEditorToken
	sc.StorePath = def(o.ShowsStore, DefaultShowsStore)
	sc.OnChange = o.OnShowsChange

	hs, err := headlines.New(hc, o.Logger.With("component", "headlines"))
	if err != nil {
		return nil, err
	}
	ws, err := weather.New(wc, o.Logger.With("component", "weather"))
	if err != nil {
		return nil, err
	}
	ss, err := shows.New(sc, o.Logger.With("component", "shows"))
	if err != nil {
		return nil, err
	}
	ts, err := topbar.New(topbar.DefaultConfig(), o.Logger.With("component", "topbar"))
	if err != nil {
		return nil, err
	}
	services := []struct {
		name string
		srv  *fragment.Server
		addr string
	}{
		{"headlines", hs, def(o.HeadlinesAddr, DefaultHeadlinesAddr)},
		{"weather", ws, def(o.WeatherAddr, DefaultWeatherAddr)},
		{"shows", ss, def(o.ShowsAddr, DefaultShowsAddr)},
		{"topbar", ts, def(o.TopbarAddr, DefaultTopbarAddr)},
	}
	lns := make([]net.Listener, 0, len(services))
	for _, s := range services {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("%s: listen: %w", s.name, err)
		}
		lns = append(lns, ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fragments{Addrs: make(map[string]string), cancel: cancel, cancels: make(map[string]context.CancelFunc), dones: make(map[string]chan struct{})}
	for i, s := range services {
		f.Addrs[s.name] = lns[i].Addr().String()
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan struct{})
		f.cancels[s.name], f.dones[s.name] = scancel, done
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer close(done)
			if err := s.srv.Serve(sctx, lns[i]); err != nil {
				f.mu.Lock()
				f.errs = append(f.errs, fmt.Errorf("%s: %w", s.name, err))
				f.mu.Unlock()
			}
		}()
	}
	return f, nil
}

// URL is the fragment's base URL for the composer.
func (f *Fragments) URL(name string) string { return "http://" + loopbackAddr(f.Addrs[name]) + "/" }

// Stop stops one service (as an outage would) and waits for it.
func (f *Fragments) Stop(name string) {
	if cancel, ok := f.cancels[name]; ok {
		cancel()
		<-f.dones[name]
	}
}

// Close stops the services gracefully and waits for them.
func (f *Fragments) Close() error {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}
