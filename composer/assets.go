package composer

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// The asset route, /_fragments/NAME/PATH: a fragment's stylesheets and
// scripts, as it declared them, served from the composer's memory, else
// its cache (shared by every composer), else fetched once from the
// fragment service without credentials. A path the fragment never declared
// is a 404: the route is no proxy onto fragment services.

// AssetPrefix is where the composer serves fragments' assets.
const AssetPrefix = "/_fragments/"

// Bounds on the assets a composer keeps in memory and in its cache.
const (
	maxAssetMemory = 16 << 20
	assetKeep      = config.MaxWindow
)

// asset is one fragment asset as the composer serves it.
type asset struct {
	kind protocol.AssetKind
	body []byte
}

func (a *asset) contentType() string {
	if a.kind == protocol.Script {
		return "text/javascript; charset=utf-8"
	}
	return "text/css; charset=utf-8"
}

// assetStore keeps assets in memory, up to maxAssetMemory bytes: content
// hashed names never change, so an asset once held is never stale. It also
// remembers the assets whose fetch failed, for a while.
type assetStore struct {
	mu    sync.RWMutex
	m     map[string]*asset
	bytes int
	miss  assetMisses
}

// How long, and for how many assets, a failed fetch is remembered.
const (
	assetMissWindow = 10 * time.Second
	maxAssetMisses  = 1024
)

// assetMisses remembers the declared assets whose fetch failed (a 404 at
// the service, a wrong type, a timeout) for assetMissWindow, so that the
// requests for one in that time neither each reach the fragment service
// nor each log a line.
type assetMisses struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// missed reports whether key's fetch failed within the window before now.
func (m *assetMisses) missed(key string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return now.Before(m.until[key])
}

// note remembers that key's fetch failed at now. When maxAssetMisses are
// remembered, the expired ones are dropped first; if none has expired,
// key is not remembered.
func (m *assetMisses) note(key string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = map[string]time.Time{}
	}
	if _, ok := m.until[key]; !ok && len(m.until) >= maxAssetMisses {
		for k, t := range m.until {
			if !now.Before(t) {
				delete(m.until, k)
			}
		}
		if len(m.until) >= maxAssetMisses {
			return
		}
	}
	m.until[key] = now.Add(assetMissWindow)
}

func (s *assetStore) get(key string) *asset {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[key]
}

func (s *assetStore) put(key string, a *asset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*asset{}
	}
	if _, ok := s.m[key]; ok || s.bytes+len(a.body) > maxAssetMemory {
		return
	}
	s.m[key] = a
	s.bytes += len(a.body)
}

// ServeAsset answers a request under AssetPrefix.
func (c *Composer) ServeAsset(rc *fasthttp.RequestCtx) {
	if !rc.IsGet() && !rc.IsHead() {
		rc.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
		RenderError(rc, fasthttp.StatusMethodNotAllowed, "Method not allowed", "Assets can only be read.", "")
		return
	}
	rest := bytes.TrimPrefix(rc.Path(), []byte(AssetPrefix))
	name, path, ok := bytes.Cut(rest, []byte{'/'})
	fr := c.rt.Load().fragment(string(name))
	p := "/" + string(path)
	if !ok || fr == nil || !protocol.ValidAssetPath(p) {
		RenderError(rc, fasthttp.StatusNotFound, "Not found", "There is no such asset.", "")
		return
	}
	a, err := c.asset(fr, p)
	if err != nil {
		RenderError(rc, fasthttp.StatusNotFound, "Not found", "There is no such asset.", "")
		return
	}
	rc.SetContentType(a.contentType())
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, protocol.AssetCacheControl)
	rc.Response.Header.Set("X-Content-Type-Options", "nosniff")
	rc.SetBody(a.body)
}

var errNoAsset = errors.New("no such asset")

// asset finds a fragment's asset: in memory, in the cache, or — when the
// fragment declared it — from the fragment service, once for all the
// requests that want it at the same time.
func (c *Composer) asset(fr *fragRuntime, path string) (*asset, error) {
	key := "asset:" + fr.f.Name + path
	if a := c.assets.get(key); a != nil {
		return a, nil
	}
	if c.assets.miss.missed(key, c.clock.Now()) {
		return nil, errNoAsset // failed a moment ago: no cache or service call
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	es, err := c.cache.GetMulti(ctx, []string{key})
	cancel()
	if err == nil && len(es) == 1 && es[0] != nil && es[0].Meta != nil && len(es[0].Meta.Assets) == 1 {
		a := &asset{kind: es[0].Meta.Assets[0].Kind, body: bytes.Clone(es[0].Body)}
		c.assets.put(key, a)
		return a, nil
	}
	if !fr.known.has(path) {
		return nil, errNoAsset
	}
	v, err, _ := c.flight.Do(key, func() (any, error) { return c.fetchAsset(fr, path, key) })
	if err != nil {
		return nil, err
	}
	return v.(*asset), nil
}

// fetchAsset fetches an asset from its fragment service, without
// credentials, and keeps it in memory and in the cache. A failure is
// logged here, once for the requests sharing the fetch, and remembered
// for assetMissWindow.
func (c *Composer) fetchAsset(fr *fragRuntime, path, key string) (*asset, error) {
	kind, body, err := fr.up.Asset(fr.f.Origin(), path)
	if err != nil {
		c.assets.miss.note(key, c.clock.Now())
		c.log.Warn("fragment asset unavailable; not asked for again for a while", "fragment", fr.f.Name, "path", path, "retry_after", assetMissWindow, "err", err)
		return nil, errNoAsset
	}
	a := &asset{kind: kind, body: body}
	c.assets.put(key, a)
	e := &Entry{Body: a.body, Stored: time.Now(), MaxAge: assetKeep, Meta: &Meta{Assets: []protocol.Asset{{Kind: a.kind, Path: path}}}}
	c.background("asset write", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := c.cache.Set(ctx, key, e, assetKeep); err != nil {
			c.m.redis.Inc()
		}
	})
	return a, nil
}
