// Package front is the composer's HTTP front: the root handler that routes
// a request to a page, a fragment's asset, the static files, health,
// readiness, metrics or the admin API, with panic recovery and
// compression for every route but pages (written from precompressed
// parts); and the fasthttp server it runs on.
package front

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/internal/rawconn"
)

// Composer is what the front serves pages and assets from.
type Composer interface {
	// ServePage composes the page at path onto rc; false when there is none.
	ServePage(rc *fasthttp.RequestCtx, path string) bool
	// ServeAsset serves a fragment's asset under composer.AssetPrefix.
	ServeAsset(rc *fasthttp.RequestCtx)
	// Site is the configuration in force.
	Site() *config.Site
}

// Options configure the composer's HTTP front.
type Options struct {
	Composer Composer
	// Static is served under /static/.
	Static fs.FS
	// Metrics is written at /metrics (with process metrics).
	Metrics *metrics.Set
	// Ready reports the cache's health for /readyz; nil means no shared
	// cache is in use.
	Ready func(ctx context.Context) error
	// Admin, when set, serves /_tessera/ (see NewAdmin).
	Admin  fasthttp.RequestHandler
	Logger *slog.Logger
}

// Handler returns the composer's root handler: pages, static assets,
// health, readiness and metrics, with panic recovery.
func Handler(o Options) fasthttp.RequestHandler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	static := staticFiles(o.Static)
	// Routes other than pages compress their answers as a whole, per
	// request (pages are written from precompressed parts instead).
	metricsPage := compressed(func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		if o.Metrics != nil {
			o.Metrics.WritePrometheus(rc)
		}
		metrics.WriteProcessMetrics(rc)
	})
	assets := compressed(o.Composer.ServeAsset)
	admin := o.Admin
	if admin != nil {
		admin = compressed(admin)
	}
	h := func(rc *fasthttp.RequestCtx) {
		path := rc.Path()
		switch {
		case bytes.HasPrefix(path, []byte("/static/")) && static != nil:
			static(rc)
			return
		case bytes.Equal(path, []byte("/healthz")):
			rc.SetContentType("text/plain; charset=utf-8")
			rc.SetBodyString("ok\n")
			return
		case bytes.Equal(path, []byte("/readyz")):
			serveReady(rc, o.Ready)
			return
		case bytes.Equal(path, []byte("/metrics")):
			metricsPage(rc)
			return
		case bytes.Equal(path, []byte("/favicon.ico")) && static != nil:
			rc.Redirect("/static/favicon.svg", fasthttp.StatusMovedPermanently)
			return
		case bytes.HasPrefix(path, []byte(composer.AssetPrefix)):
			assets(rc)
			return
		case bytes.HasPrefix(path, []byte("/_tessera/")) && admin != nil:
			admin(rc)
			return
		}
		if !rc.IsGet() && !rc.IsHead() {
			if _, ok := o.Composer.Site().Pages[string(path)]; ok {
				rc.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
				composer.RenderError(rc, fasthttp.StatusMethodNotAllowed, "Method not allowed", "Pages can only be read.", "")
				return
			}
		}
		if o.Composer.ServePage(rc, string(path)) {
			return
		}
		composer.RenderError(rc, fasthttp.StatusNotFound, "Page not found", "We could not find the page you were looking for.", "")
	}
	return Recover(o.Logger, h)
}

// staticFiles serves the files of fsys under /static/ (nil when there are
// none), compressed when the client accepts it and cached for an hour.
func staticFiles(fsys fs.FS) fasthttp.RequestHandler {
	if fsys == nil {
		return nil
	}
	fsh := &fasthttp.FS{
		FS:                 fsys,
		Root:               "",
		PathRewrite:        fasthttp.NewPathPrefixStripper(len("/static")),
		Compress:           true,
		CompressBrotli:     true,
		CacheDuration:      time.Hour,
		AcceptByteRange:    false,
		GenerateIndexPages: false,
		PathNotFound: func(rc *fasthttp.RequestCtx) {
			composer.RenderError(rc, fasthttp.StatusNotFound, "Not found", "There is no such file.", "")
		},
	}
	h := fsh.NewRequestHandler()
	return func(rc *fasthttp.RequestCtx) {
		// A directory is not a file: the same 404 page, compressed or
		// not (fasthttp answers a plain-text 403 for one otherwise).
		if isDir(fsys, rc.Path()) {
			composer.RenderError(rc, fasthttp.StatusNotFound, "Not found", "There is no such file.", "")
			return
		}
		h(rc)
		if rc.Response.StatusCode() == fasthttp.StatusOK {
			rc.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=3600")
		}
	}
}

// compressed wraps h so that its answers are compressed (brotli, gzip or
// deflate, as the client accepts) when they are worth it.
func compressed(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return fasthttp.CompressHandlerBrotliLevel(h, fasthttp.CompressBrotliDefaultCompression, fasthttp.CompressDefaultCompression)
}

// isDir reports whether a /static/ path names a directory of fsys.
func isDir(fsys fs.FS, path []byte) bool {
	name := strings.Trim(strings.TrimPrefix(string(path), "/static"), "/")
	if name == "" {
		return true
	}
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.IsDir()
}

// Recover turns a panic in h into a 500 error page and one log line;
// fasthttp itself does not recover.
func Recover(log *slog.Logger, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic serving request", "err", fmt.Sprint(p), "path", string(rc.Path()))
				composer.RenderError(rc, fasthttp.StatusInternalServerError, "Something went wrong", "An internal error occurred.", "")
			}
		}()
		h(rc)
	}
}

func serveReady(rc *fasthttp.RequestCtx, ready func(context.Context) error) {
	rc.SetContentType("application/json")
	if ready == nil {
		rc.SetBodyString(`{"status":"ok","cache":"memory"}` + "\n")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	if err := ready(ctx); err != nil {
		// Pages are still served, fetched directly: degraded, not down.
		// The reason names the part of the cache that failed.
		reason, _ := json.Marshal(err.Error())
		rc.SetBodyString(`{"status":"degraded","cache":"redis","reason":` + string(reason) + "}\n")
		return
	}
	rc.SetBodyString(`{"status":"ok","cache":"redis"}` + "\n")
}

// NewServer returns a fasthttp.Server with limits suited to the composer.
// fasthttp writes a page with writev only to a *net.TCPConn, and Serve's
// rawconn connections are not: the 16 KB write buffer sends a page of up to
// 16 KB, with its headers, in one write, and a larger one in two.
func NewServer(h fasthttp.RequestHandler, log *slog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h,
		Name:                  "tessera",
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           90 * time.Second,
		ReadBufferSize:        16 << 10,
		WriteBufferSize:       16 << 10,
		MaxRequestBodySize:    1 << 20,
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{log},
	}
}

// Serve runs srv on ln until ctx is done, then shuts it down gracefully.
func Serve(ctx context.Context, srv *fasthttp.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(rawconn.Listener{Listener: ln}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.ShutdownWithContext(sctx)
	// Shutdown closes only the listeners Serve has taken up; closing ln too
	// ends a Serve that had not got that far yet.
	_ = ln.Close()
	<-errc
	if err != nil {
		return fmt.Errorf("composer: shutdown: %w", err)
	}
	return nil
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log != nil {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
	}
}
