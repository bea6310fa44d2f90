package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/settings"
)

// Prefix is the path under which the API is served.
const Prefix = "/_tessera/api/"

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 4 << 10

// Settings is where changes are written so that every composer applies
// them. Implementations must be safe for concurrent use, reject invalid
// values with an error wrapping settings.ErrInvalid, and apply a change to
// this composer before returning (a watched settings.Store does).
type Settings interface {
	SetOverride(ctx context.Context, name string, o composer.Override) error
	ClearOverride(ctx context.Context, name string) error
	Purge(ctx context.Context, name string) (uint64, error)
}

// Composer is what the admin API and dashboard read of a composer: the
// config in force, the run-time tuning and each fragment's counts. It must
// be safe for concurrent use; *composer.Composer is one.
type Composer interface {
	Site() *config.Site
	Tuning() *composer.Tuning
	Stats(name string) composer.FragmentStats
}

// Options configure the API.
type Options struct {
	// Composer is the composer whose fragments are shown; required.
	Composer Composer
	// Settings receives changes; required. Use the store the composer
	// watches (settings.Store.Watch with Composer.SetTuning).
	Settings Settings
	// Token is the bearer token required on every request. Empty means
	// only requests from a loopback address, not relayed by a proxy, are
	// answered. It is never logged. Wrong tokens are limited per client
	// address (see SessionOptions.SignInFailures).
	Token string
	// Hosts are further names the composer is known by ("name" at any
	// port, or "name:port"), e.g. the name operators reach it by through a
	// proxy. Every request must name a known Host, token or not, else it
	// is refused with 403: localhost, 127.0.0.1 and [::1] at the port the
	// request reached, the address it reached, and these. This stops a
	// page of another site whose name was re-pointed at the composer (DNS
	// rebinding). When Sessions is set, its hosts apply (dashboard.Mount
	// passes these).
	Hosts []string
	// Next serves the /_tessera/ paths outside the API (the dashboard);
	// nil answers them with 404.
	Next fasthttp.RequestHandler
	// Sessions, when set, also lets in a browser with a session cookie
	// (see Sessions); it must be made for Token.
	Sessions *Sessions
	// Timeout bounds each write to Settings (default 3s).
	Timeout time.Duration
	Logger  *slog.Logger
}

type api struct {
	comp      Composer
	settings  Settings
	tokenHash []byte // nil: no token
	timeout   time.Duration
	log       *slog.Logger
	router    fasthttp.RequestHandler
	next      fasthttp.RequestHandler
	sessions  *Sessions
	cookies   bool // the sessions' cookies are accepted
}

// New returns the handler for every /_tessera/ path, as
// front.Options.Admin expects.
func New(o Options) (fasthttp.RequestHandler, error) {
	if o.Composer == nil {
		return nil, errors.New("admin: no composer")
	}
	if o.Settings == nil {
		return nil, errors.New("admin: no settings store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	a := &api{comp: o.Composer, settings: o.Settings, timeout: o.Timeout, log: o.Logger, next: o.Next, sessions: o.Sessions, cookies: o.Sessions != nil}
	if o.Token != "" {
		h := sha256.Sum256([]byte(o.Token))
		a.tokenHash = h[:]
	}
	if a.sessions == nil {
		a.sessions = NewSessions(o.Token, SessionOptions{Hosts: o.Hosts, Logger: o.Logger})
	}
	if !a.sessions.matches(a.tokenHash) {
		return nil, errSessionsToken
	}
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.GET(Prefix+"fragments", a.handle(a.list))
	r.HEAD(Prefix+"fragments", a.handle(a.list))
	r.GET(Prefix+"fragments/{name}", a.handle(a.get))
	r.HEAD(Prefix+"fragments/{name}", a.handle(a.get))
	r.PUT(Prefix+"fragments/{name}/ttl", a.handle(a.setTTL))
	r.DELETE(Prefix+"fragments/{name}/ttl", a.handle(a.clearTTL))
	r.POST(Prefix+"purge", a.handle(a.purge))
	r.NotFound = a.handle(func(*fasthttp.RequestCtx) error {
		return &Error{Status: fasthttp.StatusNotFound, Msg: "no such API endpoint"}
	})
	r.MethodNotAllowed = a.handle(func(rc *fasthttp.RequestCtx) error {
		TrimAllow(rc)
		return &Error{Status: fasthttp.StatusMethodNotAllowed, Msg: fmt.Sprintf("method %s not allowed here; use %s", rc.Method(), rc.Response.Header.Peek(fasthttp.HeaderAllow))}
	})
	r.HandleMethodNotAllowed = true
	a.router = r.Handler
	return a.serve, nil
}

func (a *api) serve(rc *fasthttp.RequestCtx) {
	path := rc.Path()
	if !bytes.HasPrefix(path, []byte(Prefix)) && !bytes.Equal(path, []byte(Prefix[:len(Prefix)-1])) {
		if a.next != nil {
			a.next(rc)
			return
		}
		a.writeError(rc, &Error{Status: fasthttp.StatusNotFound, Msg: "not found"})
		return
	}
	if err := a.authorize(rc); err != nil {
		a.writeError(rc, err)
		return
	}
	if !rc.IsGet() && crossOrigin(rc) {
		a.writeError(rc, &Error{Status: fasthttp.StatusForbidden, Msg: "cross-origin requests are not accepted"})
		return
	}
	a.router(rc)
}

// TrimAllow drops OPTIONS from the Allow header the router sets on a 405:
// OPTIONS is not answered (HandleOPTIONS is off), so it must not be offered.
func TrimAllow(rc *fasthttp.RequestCtx) {
	var kept []string
	for _, m := range strings.Split(string(rc.Response.Header.Peek(fasthttp.HeaderAllow)), ",") {
		if m = strings.TrimSpace(m); m != "" && m != fasthttp.MethodOptions {
			kept = append(kept, m)
		}
	}
	rc.Response.Header.Set(fasthttp.HeaderAllow, strings.Join(kept, ", "))
}

// decide says whether a request may use the API: 0 when it may, else the
// status to refuse it with. tokenHash is the SHA-256 of the configured
// token, nil when there is none.
func decide(tokenHash, authorization []byte, remote net.IP, proxied bool) int {
	if tokenHash == nil {
		if remote != nil && remote.IsLoopback() && !proxied {
			return 0
		}
		return fasthttp.StatusForbidden
	}
	scheme, tok, ok := bytes.Cut(bytes.TrimSpace(authorization), []byte(" "))
	if !ok || !bytes.EqualFold(scheme, []byte("Bearer")) {
		return fasthttp.StatusUnauthorized
	}
	// Comparing digests keeps the time independent of the token's length.
	got := sha256.Sum256(bytes.TrimSpace(tok))
	if subtle.ConstantTimeCompare(got[:], tokenHash) != 1 {
		return fasthttp.StatusUnauthorized
	}
	return 0
}

func refusal(status int) *Error {
	if status == fasthttp.StatusUnauthorized {
		return &Error{Status: status, Msg: "missing or wrong admin token: send Authorization: Bearer $TESSERA_ADMIN_TOKEN"}
	}
	return &Error{Status: status, Msg: "no admin token is configured, so the admin API and dashboard answer only requests from the composer's own host; set TESSERA_ADMIN_TOKEN to allow others"}
}

// proxied reports a request relayed by a proxy: its loopback address says
// nothing about where it came from.
func proxied(rc *fasthttp.RequestCtx) bool {
	h := &rc.Request.Header
	return len(h.Peek("X-Forwarded-For")) > 0 || len(h.Peek("Forwarded")) > 0 || len(h.Peek("X-Real-Ip")) > 0
}

// crossOrigin reports a browser request sent from another site's page,
// which must not change anything even when it reaches a loopback address.
func crossOrigin(rc *fasthttp.RequestCtx) bool {
	if site := rc.Request.Header.Peek("Sec-Fetch-Site"); len(site) > 0 && !bytes.Equal(site, []byte("same-origin")) && !bytes.Equal(site, []byte("none")) {
		return true
	}
	origin := rc.Request.Header.Peek(fasthttp.HeaderOrigin)
	if len(origin) == 0 {
		return false
	}
	_, host, ok := bytes.Cut(origin, []byte("://"))
	return !ok || !bytes.EqualFold(host, rc.Host())
}

// Error is an API error: the status and a message for the operator.
type Error struct {
	Status int
	Msg    string
	// RetryAfter, for a 429, is how long until the client may try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Msg }

// handle adapts a handler that returns an error to fasthttp.
func (a *api) handle(h func(rc *fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if err := h(rc); err != nil {
			a.writeError(rc, err)
		}
	}
}

// writeError turns an error into the API's JSON answer. Only *Error and
// refused settings are shown as they are; anything else is logged and
// reported as the settings store being unavailable.
func (a *api) writeError(rc *fasthttp.RequestCtx, err error) {
	var ae *Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, settings.ErrInvalid):
		ae = &Error{Status: fasthttp.StatusBadRequest, Msg: err.Error()}
	default:
		a.log.Warn("admin request failed", "err", err, "path", string(rc.Path()))
		ae = &Error{Status: fasthttp.StatusServiceUnavailable, Msg: "the settings store did not answer; try again"}
	}
	if ae.Status == fasthttp.StatusUnauthorized {
		rc.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="tessera"`)
	}
	if ae.RetryAfter > 0 {
		rc.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(int(retrySeconds(ae.RetryAfter)/time.Second)))
	}
	writeJSON(rc, ae.Status, map[string]string{"error": ae.Msg})
}

func writeJSON(rc *fasthttp.RequestCtx, status int, v any) {
	rc.Response.Header.SetContentType("application/json")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	rc.Response.Header.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	rc.SetStatusCode(status)
	rc.ResetBody()
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"internal error"}`)
	}
	rc.SetBody(append(b, '\n'))
}

func (a *api) list(rc *fasthttp.RequestCtx) error {
	writeJSON(rc, fasthttp.StatusOK, Fragments(a.comp))
	return nil
}

func (a *api) get(rc *fasthttp.RequestCtx) error {
	name, err := a.fragment(rc.UserValue("name"))
	if err != nil {
		return err
	}
	return a.writeRow(rc, name)
}

// fragment checks that v names a fragment of the site in force.
func (a *api) fragment(v any) (string, error) {
	name, _ := v.(string)
	if name == "" {
		return "", &Error{Status: fasthttp.StatusBadRequest, Msg: "a fragment name is required"}
	}
	if _, ok := a.comp.Site().Fragments[name]; !ok {
		return "", &Error{Status: fasthttp.StatusNotFound, Msg: fmt.Sprintf("unknown fragment %q", name)}
	}
	return name, nil
}

func (a *api) writeRow(rc *fasthttp.RequestCtx, name string) error {
	row, ok := FragmentByName(a.comp, name)
	if !ok {
		return &Error{Status: fasthttp.StatusNotFound, Msg: fmt.Sprintf("unknown fragment %q", name)}
	}
	writeJSON(rc, fasthttp.StatusOK, row)
	return nil
}

// TTLRequest is the body of PUT .../ttl: Go duration strings, each
// optional, at least one given.
type TTLRequest struct {
	TTL *string `json:"ttl,omitempty"`
	SWR *string `json:"swr,omitempty"`
	SIE *string `json:"sie,omitempty"`
}

func (a *api) setTTL(rc *fasthttp.RequestCtx) error {
	name, err := a.fragment(rc.UserValue("name"))
	if err != nil {
		return err
	}
	body, err := readBody(rc)
	if err != nil {
		return err
	}
	var req TTLRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return &Error{Status: fasthttp.StatusBadRequest, Msg: fmt.Sprintf(`the body must be a JSON object like {"ttl":"30s","swr":"1m","sie":"10m"}: %v`, err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: fasthttp.StatusBadRequest, Msg: "the body must hold one JSON object only"}
	}
	var o composer.Override
	for _, f := range []struct {
		field string
		in    *string
		out   **time.Duration
	}{{"ttl", req.TTL, &o.TTL}, {"swr", req.SWR, &o.SWR}, {"sie", req.SIE, &o.SIE}} {
		if f.in == nil {
			continue
		}
		d, err := time.ParseDuration(*f.in)
		if err != nil {
			return &Error{Status: fasthttp.StatusBadRequest, Msg: fmt.Sprintf("%s: %q is not a duration (use e.g. 500ms, 30s, 5m)", f.field, *f.in)}
		}
		if err := settings.CheckDuration(f.field, &d); err != nil {
			return &Error{Status: fasthttp.StatusBadRequest, Msg: fmt.Sprintf("%s: %q must be between 0s and %s", f.field, *f.in, settings.FormatDuration(settings.MaxDuration))}
		}
		*f.out = &d
	}
	if o.TTL == nil && o.SWR == nil && o.SIE == nil {
		return &Error{Status: fasthttp.StatusBadRequest, Msg: "give at least one of ttl, swr, sie"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if err := a.settings.SetOverride(ctx, name, o); err != nil {
		return err
	}
	a.log.Info("ttl override set", "fragment", name, "ttl", durAttr(o.TTL), "swr", durAttr(o.SWR), "sie", durAttr(o.SIE), "remote", rc.RemoteIP().String())
	return a.writeRow(rc, name)
}

func (a *api) clearTTL(rc *fasthttp.RequestCtx) error {
	name, err := a.fragment(rc.UserValue("name"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if err := a.settings.ClearOverride(ctx, name); err != nil {
		return err
	}
	a.log.Info("ttl override cleared", "fragment", name, "remote", rc.RemoteIP().String())
	return a.writeRow(rc, name)
}

// PurgeResult is the answer to POST /_tessera/api/purge.
type PurgeResult struct {
	Fragment   string `json:"fragment"`
	Generation uint64 `json:"generation"`
}

func (a *api) purge(rc *fasthttp.RequestCtx) error {
	if _, err := readBody(rc); err != nil {
		return err
	}
	name, err := a.fragment(string(rc.QueryArgs().Peek("fragment")))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	gen, err := a.settings.Purge(ctx, name)
	if err != nil {
		return err
	}
	a.log.Info("fragment purged", "fragment", name, "generation", gen, "remote", rc.RemoteIP().String())
	writeJSON(rc, fasthttp.StatusOK, PurgeResult{Fragment: name, Generation: gen})
	return nil
}

func readBody(rc *fasthttp.RequestCtx) ([]byte, error) {
	if rc.Request.Header.ContentLength() > MaxBodyBytes || len(rc.PostBody()) > MaxBodyBytes {
		return nil, &Error{Status: fasthttp.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
	}
	return rc.PostBody(), nil
}

func durAttr(d *time.Duration) string {
	if d == nil {
		return ""
	}
	return settings.FormatDuration(*d)
}

var _ Settings = (*settings.Store)(nil)

var _ Composer = (*composer.Composer)(nil)
