package fragment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Defaults applied by [New] to zero Config fields.
const (
	DefaultPath               = "/"
	DefaultReadTimeout        = 5 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultShutdownTimeout    = 10 * time.Second
	DefaultMaxRequestBodySize = 64 << 10
)

// Config describes a fragment service.
type Config struct {
	// Name identifies the fragment: lowercase letters, digits and dashes.
	// It is the data-fragment attribute of the snippet's root element.
	Name string
	// Version is the service's semantic version, sent as X-Fragment-Version.
	Version string
	// MaxAge is the Cache-Control max-age of a snippet (whole seconds).
	MaxAge time.Duration
	// StaleWhileRevalidate, when positive, adds stale-while-revalidate to
	// the snippet's Cache-Control.
	StaleWhileRevalidate time.Duration
	// Auth checks the composer's requests for the snippet.
	Auth Auth
	// Path is where the snippet is served; empty means "/".
	Path string
	// Assets are the stylesheets and scripts the snippet needs, made with
	// [CSS] and [JS]. Each is served, with no credentials, at
	// /assets/<stem>.<8 hex of its SHA-256><ext>, and declared in a Link
	// header of every snippet answer, in this order.
	Assets []Asset

	// ReadTimeout, WriteTimeout and IdleTimeout bound each connection;
	// zero means the Default values above.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// ShutdownTimeout bounds the wait for open requests at shutdown.
	ShutdownTimeout time.Duration
	// MaxRequestBodySize bounds request bodies; zero means 64 KiB.
	MaxRequestBodySize int
}

// SnippetFunc returns the component to render for a snippet request. It
// reads its inputs from the query of ctx, and may set the page's head with
// [SetHead]. Returning [NotFound] or [Gone] sends that status with markup,
// [Redirect] a redirect, an [*Error] that status and message; any other
// error sends a 500.
type SnippetFunc func(ctx *fasthttp.RequestCtx) (templ.Component, error)

// HandlerFunc handles a route added with [Server.Handle] or
// [Server.HandleJSON]. It writes the response itself on success and returns
// an error otherwise, which is turned into the response as for SnippetFunc.
type HandlerFunc func(ctx *fasthttp.RequestCtx) error

// Server serves one fragment. Create it with [New], add routes, then call
// [Server.ListenAndServe] or [Server.Serve]. Routes must be added before
// serving starts; serving is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	snippet SnippetFunc
	router  *router.Router
	metrics *serverMetrics
	cache   string
	assets  []servedAsset
	links   [][]byte
}

var (
	semverRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// New returns a Server for the fragment described by cfg, rendering
// snippets with snippet. A nil log discards log records.
func New(cfg Config, log *slog.Logger, snippet SnippetFunc) (*Server, error) {
	if err := protocol.CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("fragment: name: %w", err)
	}
	if !semverRE.MatchString(cfg.Version) {
		return nil, fmt.Errorf("fragment: %s: version %q is not semver", cfg.Name, cfg.Version)
	}
	if cfg.MaxAge < 0 || cfg.StaleWhileRevalidate < 0 {
		return nil, fmt.Errorf("fragment: %s: cache durations must not be negative", cfg.Name)
	}
	if err := cfg.Auth.Validate(); err != nil {
		return nil, fmt.Errorf("fragment: %s: %w", cfg.Name, err)
	}
	if snippet == nil {
		return nil, fmt.Errorf("fragment: %s: nil snippet func", cfg.Name)
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Path[0] != '/' {
		return nil, fmt.Errorf("fragment: %s: path %q must start with /", cfg.Name, cfg.Path)
	}
	assets, links, err := prepareAssets(cfg.Name, cfg.Assets)
	if err != nil {
		return nil, err
	}
	setDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&cfg.MaxRequestBodySize, DefaultMaxRequestBodySize)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	cc := "public, max-age=" + strconv.FormatInt(int64(cfg.MaxAge/time.Second), 10)
	if cfg.StaleWhileRevalidate > 0 {
		cc += ", stale-while-revalidate=" + strconv.FormatInt(int64(cfg.StaleWhileRevalidate/time.Second), 10)
	}

	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	s := &Server{
		cfg:     cfg,
		log:     log,
		snippet: snippet,
		router:  r,
		metrics: newServerMetrics(cfg.Name),
		cache:   cc,
		assets:  assets,
		links:   links,
	}
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		s.serveError(ctx, Errorf(fasthttp.StatusNotFound, "not found"), nil)
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		s.serveError(ctx, Errorf(fasthttp.StatusMethodNotAllowed, "method not allowed"), nil)
	}

	snip := &route{name: cfg.Path, auth: cfg.Auth}
	s.add(fasthttp.MethodGet, snip, s.serveSnippet)
	s.add(fasthttp.MethodHead, snip, s.serveSnippet)
	health := &route{name: "/healthz"}
	s.add(fasthttp.MethodGet, health, s.serveHealth)
	s.add(fasthttp.MethodHead, health, s.serveHealth)
	s.add(fasthttp.MethodGet, &route{name: "/metrics"}, s.serveMetrics)
	for i := range s.assets {
		a := &s.assets[i]
		rt := &route{name: a.path}
		s.add(fasthttp.MethodGet, rt, a.serve)
		s.add(fasthttp.MethodHead, rt, a.serve)
	}
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Handle adds a route whose callers are checked with auth. Errors are sent
// as plain text. It panics if the route is already taken, as a programming
// error.
func (s *Server) Handle(method, path string, auth Auth, h HandlerFunc) {
	s.handle(method, path, auth, false, h)
}

// HandleJSON adds a route like [Server.Handle], for a JSON API: errors,
// including 401 and 500, are sent as {"error": "..."}. Write success
// responses with [WriteJSON].
func (s *Server) HandleJSON(method, path string, auth Auth, h HandlerFunc) {
	s.handle(method, path, auth, true, h)
}

func (s *Server) handle(method, path string, auth Auth, asJSON bool, h HandlerFunc) {
	if err := auth.Validate(); err != nil {
		panic(fmt.Sprintf("fragment: %s %s: %v", method, path, err))
	}
	s.add(method, &route{name: path, auth: auth, json: asJSON}, h)
}

// route is what the root handler knows about the route being served.
type route struct {
	name string
	auth Auth
	json bool
}

type routeKey struct{}

func (s *Server) add(method string, rt *route, h HandlerFunc) {
	s.router.Handle(method, rt.name, func(ctx *fasthttp.RequestCtx) {
		ctx.SetUserValue(routeKey{}, rt)
		if err := rt.auth.Verify(&ctx.Request); err != nil {
			s.metrics.authFailure()
			s.serveError(ctx, err, rt)
			return
		}
		if err := h(ctx); err != nil {
			s.serveError(ctx, err, rt)
		}
	})
}

// Handler returns the server's root handler, with panic recovery, metrics
// and the version header. Use it to serve the fragment from a fasthttp
// server of your own.
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			s.metrics.panicked()
			s.log.Error("panic serving request",
				slog.String("method", string(ctx.Method())),
				slog.String("path", string(ctx.Path())),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())))
			rt, _ := ctx.UserValue(routeKey{}).(*route)
			ctx.Response.Reset()
			s.setCommonHeaders(ctx)
			s.writeError(ctx, fasthttp.StatusInternalServerError, "internal error", rt)
		}
		s.observe(ctx, start)
	}()
	s.setCommonHeaders(ctx)
	s.router.Handler(ctx)
}

func (s *Server) setCommonHeaders(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set(HeaderVersion, s.cfg.Version)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
}

func (s *Server) observe(ctx *fasthttp.RequestCtx, start time.Time) {
	name := "other"
	if rt, ok := ctx.UserValue(routeKey{}).(*route); ok {
		name = rt.name
	}
	status := ctx.Response.StatusCode()
	dur := time.Since(start)
	s.metrics.request(name, status)
	s.log.Debug("request",
		slog.String("method", string(ctx.Method())),
		slog.String("path", string(ctx.Path())),
		slog.Int("status", status),
		slog.Duration("dur", dur),
		slog.String("request_id", string(ctx.Request.Header.Peek("X-Request-Id"))),
		slog.String("traceparent", string(ctx.Request.Header.Peek("traceparent"))))
}

func (s *Server) serveSnippet(ctx *fasthttp.RequestCtx) error {
	start := time.Now()
	status := fasthttp.StatusOK
	c, err := s.snippet(ctx)
	if err != nil {
		var m *markupAnswer
		var r *redirectAnswer
		switch {
		case errors.As(err, &m):
			c, status = m.c, m.status
		case errors.As(err, &r):
			return s.serveRedirect(ctx, r)
		default:
			return err
		}
	}
	if c == nil {
		return fmt.Errorf("fragment: %s: the snippet func returned no component to render (status %d)", s.cfg.Name, status)
	}
	// The response body is a buffer that is sent only when the handler
	// returns, so a render that fails half-way can still become a 500.
	// RequestCtx is cancelled as soon as shutdown begins; requests already
	// being served are meant to finish, so their render must not see that.
	ctx.SetContentType("text/html; charset=utf-8")
	if err := c.Render(context.WithoutCancel(ctx), ctx.Response.BodyWriter()); err != nil {
		ctx.Response.ResetBody()
		return fmt.Errorf("fragment: %s: render: %w", s.cfg.Name, err)
	}
	dur := time.Since(start)
	s.metrics.rendered(dur)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, s.cache)
	for _, l := range s.links {
		ctx.Response.Header.AddBytesV(protocol.HeaderLink, l)
	}
	ctx.Response.Header.Set("Server-Timing", "render;dur="+strconv.FormatFloat(float64(dur.Microseconds())/1000, 'f', 3, 64))
	ctx.SetStatusCode(status)
	return nil
}

// serveRedirect answers a redirect a SnippetFunc asked for, cached like
// the snippet. A code or location the contract does not allow is the
// service's bug: it becomes a 500 and is logged.
func (s *Server) serveRedirect(ctx *fasthttp.RequestCtx, r *redirectAnswer) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("fragment: %s: %w", s.cfg.Name, err)
	}
	ctx.Response.ResetBody()
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, s.cache)
	ctx.Response.Header.Set(fasthttp.HeaderLocation, r.location)
	ctx.SetStatusCode(r.code)
	return nil
}

type healthBody struct {
	Status   string `json:"status"`
	Fragment string `json:"fragment"`
	Version  string `json:"version"`
}

func (s *Server) serveHealth(ctx *fasthttp.RequestCtx) error {
	b, err := json.Marshal(healthBody{Status: "ok", Fragment: s.cfg.Name, Version: s.cfg.Version})
	if err != nil {
		return fmt.Errorf("fragment: health: %w", err)
	}
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetBody(append(b, '\n'))
	return nil
}

func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	s.metrics.write(ctx.Response.BodyWriter())
	return nil
}

// WritePrometheus writes the service's metrics in Prometheus text format,
// for a process that serves several fragments and exposes one /metrics.
func (s *Server) WritePrometheus(w io.Writer) { s.metrics.write(w) }

func (s *Server) newHTTPServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      s.serve,
		ErrorHandler:                 s.serveParseError,
		NoDefaultServerHeader:        true,
		ReadTimeout:                  s.cfg.ReadTimeout,
		WriteTimeout:                 s.cfg.WriteTimeout,
		IdleTimeout:                  s.cfg.IdleTimeout,
		MaxRequestBodySize:           s.cfg.MaxRequestBodySize,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.log},
	}
}

// serveParseError answers requests that fasthttp could not read.
func (s *Server) serveParseError(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = fasthttp.StatusRequestEntityTooLarge
	case errors.As(err, &te) && te.Timeout():
		status = fasthttp.StatusRequestTimeout
	}
	s.metrics.request("other", status)
	s.log.Info("unreadable request", slog.Int("status", status), slog.Any("err", err))
	ctx.Response.Reset()
	s.setCommonHeaders(ctx)
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(fasthttp.StatusMessage(status) + "\n")
}

// Serve serves the fragment on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets open requests finish (at most
// Config.ShutdownTimeout) and returns. It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.newHTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("fragment: %s: serve: %w", s.cfg.Name, err)
		}
		return nil
	case <-ctx.Done():
	}
	s.log.Info("shutting down", slog.String("fragment", s.cfg.Name))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.ShutdownWithContext(sctx)
	// Shutdown closes only the listeners Serve has registered; closing ln
	// too ends a Serve that had not got that far yet.
	_ = ln.Close()
	<-errc
	if err != nil {
		return fmt.Errorf("fragment: %s: shutdown: %w", s.cfg.Name, err)
	}
	return nil
}

// ListenAndServe listens on the TCP address addr and calls [Server.Serve].
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("fragment: %s: listen: %w", s.cfg.Name, err)
	}
	s.log.Info("listening", slog.String("fragment", s.cfg.Name), slog.String("addr", ln.Addr().String()), slog.String("version", s.cfg.Version))
	return s.Serve(ctx, ln)
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn("fasthttp", slog.String("detail", fmt.Sprintf(format, args...)))
}
