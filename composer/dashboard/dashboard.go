package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
	"github.com/tessera-dev/tessera/composer/settings"
)

// Paths of the dashboard.
const (
	Root      = "/_tessera/"
	PagesPath = Root + "pages"
	StatsPath = Root + "stats.json"
	LoginPath = Root + "login"
	// LogoutPath signs out on POST; GET asks to confirm.
	LogoutPath = Root + "logout"
	StaticPath = Root + "static/"
)

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf"

// Options configure the dashboard.
type Options struct {
	// Composer is the composer shown; required.
	Composer admin.Composer
	// Settings receives changes made through the forms without script;
	// required. The forms with script go through the admin API.
	Settings admin.Settings
	// Sessions decides who gets in and signs browsers in; required. Give
	// the API the same one (admin.Options.Sessions), so that a signed-in
	// browser may use it.
	Sessions *admin.Sessions
	// Timeout bounds each write to Settings (default 3s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Mount returns o with the dashboard as its Next handler and sessions
// shared between the dashboard and the API, for admin.New. The sessions
// know o.Hosts, and share sign-outs through o.Settings when it keeps them
// (admin.Revocations, as settings.Store does).
func Mount(o admin.Options) admin.Options {
	if o.Sessions == nil {
		so := admin.SessionOptions{Hosts: o.Hosts, Logger: o.Logger}
		if r, ok := o.Settings.(admin.Revocations); ok {
			so.Revocations = r
		}
		o.Sessions = admin.NewSessions(o.Token, so)
	}
	h, err := New(Options{Composer: o.Composer, Settings: o.Settings, Sessions: o.Sessions, Timeout: o.Timeout, Logger: o.Logger})
	if err == nil {
		o.Next = h
	}
	// Otherwise a composer or settings store is missing, which admin.New
	// reports.
	return o
}

type dashboard struct {
	src      source
	settings admin.Settings
	sessions *admin.Sessions
	timeout  time.Duration
	log      *slog.Logger
	// shared: changes reach every composer (the settings are in Redis).
	shared bool
}

// New returns the handler for the dashboard's paths under /_tessera/
// (everything but the API).
func New(o Options) (fasthttp.RequestHandler, error) {
	d, err := newDashboard(o)
	if err != nil {
		return nil, err
	}
	return d.handler(), nil
}

func newDashboard(o Options) (*dashboard, error) {
	switch {
	case o.Composer == nil:
		return nil, errors.New("dashboard: no composer")
	case o.Settings == nil:
		return nil, errors.New("dashboard: no settings store")
	case o.Sessions == nil:
		return nil, errors.New("dashboard: no sessions")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	d := &dashboard{
		src:      source{comp: o.Composer, stats: o.Composer.Stats, now: time.Now},
		settings: o.Settings,
		sessions: o.Sessions,
		timeout:  o.Timeout,
		log:      o.Logger,
		shared:   true,
	}
	if s, ok := o.Settings.(interface{ Shared() bool }); ok {
		d.shared = s.Shared()
	}
	return d, nil
}

func (d *dashboard) handler() fasthttp.RequestHandler {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.GET(StaticPath+"{file}", serveStatic)
	r.HEAD(StaticPath+"{file}", serveStatic)
	r.POST(LoginPath, d.login)
	r.GET(LogoutPath, d.page(d.logoutForm))
	r.POST(LogoutPath, d.write(d.logout))
	for path, h := range map[string]fasthttp.RequestHandler{
		Root:      d.page(d.overview),
		PagesPath: d.page(d.pages),
		StatsPath: d.stats,
		LoginPath: d.loginForm,
	} {
		r.GET(path, h)
		r.HEAD(path, h)
	}
	r.POST(Root+"fragments/{name}/ttl", d.write(d.setTTL))
	r.POST(Root+"fragments/{name}/purge", d.write(d.purge))
	r.NotFound = func(rc *fasthttp.RequestCtx) {
		d.render(rc, fasthttp.StatusNotFound, notice(shell{Title: "Not found"}, "Not found", "There is no such page on the dashboard.", Root, "Back to the fragments"))
	}
	r.MethodNotAllowed = func(rc *fasthttp.RequestCtx) {
		admin.TrimAllow(rc)
		d.render(rc, fasthttp.StatusMethodNotAllowed, notice(shell{Title: "Method not allowed"}, "Method not allowed", fmt.Sprintf("%s is not allowed here.", rc.Method()), Root, "Back to the fragments"))
	}
	return func(rc *fasthttp.RequestCtx) {
		if !d.sessions.KnownHost(rc) {
			d.render(rc, fasthttp.StatusForbidden, notice(shell{Title: "Unknown host"}, "Unknown host",
				fmt.Sprintf("This composer is not known by the name %q. Open the dashboard at its own address or at localhost, or add the name to admin.hosts (TESSERA_ADMIN_HOSTS).", truncate(string(rc.Host()), 80)), "", ""))
			return
		}
		r.Handler(rc)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// page wraps a page that needs access: without it, a browser is sent to
// sign in (or told why it cannot).
func (d *dashboard) page(h func(rc *fasthttp.RequestCtx, v shell)) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		access, err := d.sessions.Check(rc)
		if access == admin.AccessDenied {
			d.refuse(rc, err)
			return
		}
		h(rc, d.shell(rc, access))
	}
}

// write wraps a form post: it needs access, a request from this site and
// the session's CSRF token.
func (d *dashboard) write(h func(rc *fasthttp.RequestCtx, v shell)) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		access, err := d.sessions.Check(rc)
		if access == admin.AccessDenied {
			d.refuse(rc, err)
			return
		}
		if !admin.SameOrigin(rc) || !d.sessions.CheckCSRF(rc, rc.PostArgs().Peek(CSRFField)) {
			d.render(rc, fasthttp.StatusForbidden, notice(d.shell(rc, access), "Request refused",
				"This form was sent from another site or from a stale page. Reload the dashboard and try again.", Root, "Back to the fragments"))
			return
		}
		h(rc, d.shell(rc, access))
	}
}

// refuse answers a request without access: sign in when a token is
// configured, else explain why not.
func (d *dashboard) refuse(rc *fasthttp.RequestCtx, err *admin.Error) {
	switch err.Status {
	case fasthttp.StatusUnauthorized:
		seeOther(rc, LoginPath+"?next="+safeNext(string(rc.RequestURI())))
	case fasthttp.StatusTooManyRequests:
		retryAfter(rc, err.RetryAfter)
		d.render(rc, err.Status, notice(shell{Title: "Too many attempts"}, "Too many attempts", err.Msg+".", "", ""))
	default:
		d.render(rc, err.Status, noToken(shell{Title: "Sign-in unavailable"}))
	}
}

// retryAfter sets Retry-After to a wait in whole seconds, rounded up.
func retryAfter(rc *fasthttp.RequestCtx, wait time.Duration) {
	rc.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(int((wait+time.Second-1)/time.Second)))
}

// shell is what every page's chrome needs.
type shell struct {
	Title  string
	Active string // path of the current section
	// CSRF is the token forms send back; empty for bearer access.
	CSRF string
	// SignedIn shows the sign-out button.
	SignedIn bool
	// Live loads the script that refreshes the numbers.
	Live bool
	// Applies says where a saved change applies, for the script's note.
	Applies string
}

func (d *dashboard) shell(rc *fasthttp.RequestCtx, a admin.Access) shell {
	applies := appliesEverywhere
	if !d.shared {
		applies = appliesHere
	}
	return shell{CSRF: d.sessions.CSRFToken(rc), SignedIn: a == admin.AccessSession, Applies: applies}
}

func (d *dashboard) overview(rc *fasthttp.RequestCtx, v shell) {
	v.Title, v.Active, v.Live = "Fragments", Root, true
	d.render(rc, fasthttp.StatusOK, overview(v, d.src.snapshot(), flash(rc, d.shared)))
}

func (d *dashboard) pages(rc *fasthttp.RequestCtx, v shell) {
	v.Title, v.Active, v.Live = "Pages", PagesPath, true
	snap := d.src.snapshot()
	byName := make(map[string]Fragment, len(snap.Fragments))
	for _, f := range snap.Fragments {
		byName[f.Name] = f
	}
	d.render(rc, fasthttp.StatusOK, pagesView(v, snap, byName))
}

// stats serves the snapshot as JSON for the page's script.
func (d *dashboard) stats(rc *fasthttp.RequestCtx) {
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	rc.Response.Header.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	rc.Response.Header.SetContentType("application/json")
	if access, err := d.sessions.Check(rc); access == admin.AccessDenied {
		rc.SetStatusCode(err.Status)
		msg := err.Msg
		switch err.Status {
		case fasthttp.StatusUnauthorized:
			msg = "sign in at " + LoginPath + " or send Authorization: Bearer $TESSERA_ADMIN_TOKEN"
			rc.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="tessera"`)
		case fasthttp.StatusTooManyRequests:
			retryAfter(rc, err.RetryAfter)
		}
		b, _ := json.Marshal(map[string]string{"error": msg})
		rc.SetBody(append(b, '\n'))
		return
	}
	b, err := json.Marshal(d.src.snapshot())
	if err != nil {
		rc.SetStatusCode(fasthttp.StatusInternalServerError)
		rc.SetBodyString(`{"error":"internal error"}` + "\n")
		return
	}
	rc.SetBody(append(b, '\n'))
}

func (d *dashboard) loginForm(rc *fasthttp.RequestCtx) {
	next := safeNext(string(rc.QueryArgs().Peek("next")))
	if access, err := d.sessions.Check(rc); access != admin.AccessDenied {
		seeOther(rc, next)
		return
	} else if err.Status != fasthttp.StatusUnauthorized {
		d.refuse(rc, err)
		return
	}
	d.render(rc, fasthttp.StatusOK, login(shell{Title: "Sign in"}, next, ""))
}

func (d *dashboard) login(rc *fasthttp.RequestCtx) {
	next := safeNext(string(rc.PostArgs().Peek("next")))
	if !d.sessions.TokenRequired() {
		d.loginForm(rc)
		return
	}
	if !admin.SameOrigin(rc) {
		d.render(rc, fasthttp.StatusForbidden, login(shell{Title: "Sign in"}, next, "Sign in from this dashboard's own page."))
		return
	}
	err := d.sessions.SignIn(rc, rc.PostArgs().Peek("token"))
	var lim *admin.LimitedError
	switch {
	case errors.As(err, &lim):
		retryAfter(rc, lim.RetryAfter)
		d.render(rc, fasthttp.StatusTooManyRequests, login(shell{Title: "Sign in"}, next,
			fmt.Sprintf("Too many wrong tokens from this address. Try again in %s.", settings.FormatDuration((lim.RetryAfter+time.Second-1).Truncate(time.Second)))))
		return
	case err != nil:
		// Logged by the sessions. The form again, as a page (200), like
		// any form with a mistake.
		d.render(rc, fasthttp.StatusOK, login(shell{Title: "Sign in"}, next, "That is not the admin token."))
		return
	}
	d.log.Info("dashboard sign-in", "remote", rc.RemoteIP().String())
	seeOther(rc, next)
}

func (d *dashboard) logoutForm(rc *fasthttp.RequestCtx, v shell) {
	if !v.SignedIn {
		seeOther(rc, Root)
		return
	}
	v.Title = "Sign out"
	d.render(rc, fasthttp.StatusOK, logout(v))
}

func (d *dashboard) logout(rc *fasthttp.RequestCtx, _ shell) {
	if err := d.sessions.SignOut(rc); err != nil {
		d.log.Warn("dashboard sign-out not shared: other composers accept the session until it expires", "err", err, "remote", rc.RemoteIP().String())
	}
	d.log.Info("dashboard sign-out", "remote", rc.RemoteIP().String())
	seeOther(rc, LoginPath)
}

// setTTL is the TTL form without script: fields left empty or unchanged
// keep their value; action=reset clears the override.
func (d *dashboard) setTTL(rc *fasthttp.RequestCtx, v shell) {
	name, ok := d.fragment(rc)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	args := rc.PostArgs()
	if string(args.Peek("action")) == "reset" {
		if err := d.settings.ClearOverride(ctx, name); err != nil {
			d.failed(rc, v, name, err)
			return
		}
		d.log.Info("ttl override cleared", "fragment", name, "remote", rc.RemoteIP().String())
		d.done(rc, name, "reset")
		return
	}
	row, _ := admin.FragmentByName(d.src.comp, name)
	current := map[string]string{"ttl": row.TTL, "swr": row.SWR, "sie": row.SIE}
	var o composer.Override
	for _, f := range []struct {
		field string
		out   **time.Duration
	}{{"ttl", &o.TTL}, {"swr", &o.SWR}, {"sie", &o.SIE}} {
		in := strings.TrimSpace(string(args.Peek(f.field)))
		if in == "" {
			continue
		}
		dur, err := time.ParseDuration(in)
		if err != nil {
			d.failed(rc, v, name, fmt.Errorf("%w: %s: %q is not a duration (use e.g. 500ms, 30s, 5m)", settings.ErrInvalid, f.field, in))
			return
		}
		// A value left as shown ("1m", or "1m0s" from an older page)
		// stays what it is.
		if cur, err := time.ParseDuration(current[f.field]); err == nil && cur == dur {
			continue
		}
		*f.out = &dur
	}
	if o.TTL == nil && o.SWR == nil && o.SIE == nil {
		d.done(rc, name, "unchanged")
		return
	}
	if err := d.settings.SetOverride(ctx, name, o); err != nil {
		d.failed(rc, v, name, err)
		return
	}
	d.log.Info("ttl override set", "fragment", name, "remote", rc.RemoteIP().String())
	d.done(rc, name, "saved")
}

func (d *dashboard) purge(rc *fasthttp.RequestCtx, v shell) {
	name, ok := d.fragment(rc)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	gen, err := d.settings.Purge(ctx, name)
	if err != nil {
		d.failed(rc, v, name, err)
		return
	}
	d.log.Info("fragment purged", "fragment", name, "generation", gen, "remote", rc.RemoteIP().String())
	d.done(rc, name, "purged")
}

// fragment reads the fragment named in the path; an unknown one is
// answered with 404.
func (d *dashboard) fragment(rc *fasthttp.RequestCtx) (string, bool) {
	name, _ := rc.UserValue("name").(string)
	if _, ok := d.src.comp.Site().Fragments[name]; !ok {
		d.render(rc, fasthttp.StatusNotFound, notice(shell{Title: "Not found"}, "Unknown fragment", fmt.Sprintf("There is no fragment %q.", name), Root, "Back to the fragments"))
		return "", false
	}
	return name, true
}

// done sends the browser back to the fragment's row with a note.
func (d *dashboard) done(rc *fasthttp.RequestCtx, name, what string) {
	seeOther(rc, Root+"?"+what+"="+name+"#frag-"+name)
}

// failed shows the overview again with what went wrong: a refused value as
// it is, anything else as the store being unavailable.
func (d *dashboard) failed(rc *fasthttp.RequestCtx, v shell, name string, err error) {
	status, msg := fasthttp.StatusBadRequest, name+": "+strings.TrimPrefix(err.Error(), settings.ErrInvalid.Error()+": ")
	if !errors.Is(err, settings.ErrInvalid) {
		d.log.Warn("dashboard change failed", "fragment", name, "err", err)
		status, msg = fasthttp.StatusServiceUnavailable, "The settings store did not answer; try again."
	}
	v.Title, v.Active, v.Live = "Fragments", Root, true
	d.render(rc, status, overview(v, d.src.snapshot(), note{Text: msg, Error: true}))
}

// note is a message shown above the table after a change.
type note struct {
	Text  string
	Error bool
}

// Where a saved change applies, as the notes say it.
const (
	appliesEverywhere = "every composer applies it within a second."
	appliesHere       = "this composer applies it now; without Redis, other composers do not see it."
)

// flash reads the note a form left in the query after a change.
func flash(rc *fasthttp.RequestCtx, shared bool) note {
	q := rc.QueryArgs()
	applies := appliesEverywhere
	if !shared {
		applies = appliesHere
	}
	for _, k := range []struct{ key, text string }{
		{"saved", "%s: saved; " + applies},
		{"reset", "%s: override cleared; the config applies again."},
		{"purged", "%s: purged; the next request fetches it afresh."},
		{"unchanged", "%s: nothing to save; change a value first."},
	} {
		if name := string(q.Peek(k.key)); name != "" && len(name) <= 64 {
			return note{Text: fmt.Sprintf(k.text, name)}
		}
	}
	return note{}
}

// render writes a whole page, with headers that keep it out of caches and
// frames and allow only the dashboard's own script and styles.
func (d *dashboard) render(rc *fasthttp.RequestCtx, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		d.log.Error("dashboard render failed", "err", err, "path", string(rc.Path()))
		status = fasthttp.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>Internal error.</p>\n")
	}
	h := &rc.Response.Header
	h.SetContentType("text/html; charset=utf-8")
	h.Set(fasthttp.HeaderCacheControl, "no-store")
	h.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	rc.SetStatusCode(status)
	rc.SetBody(buf.Bytes())
}

// seeOther redirects to a path on this host: relative, so that it holds
// behind a proxy that terminates TLS.
func seeOther(rc *fasthttp.RequestCtx, path string) {
	rc.Response.Header.Set(fasthttp.HeaderLocation, path)
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	rc.SetStatusCode(fasthttp.StatusSeeOther)
}

// safeNext keeps a return path only when it is a dashboard page, so the
// sign-in form cannot send anyone elsewhere.
func safeNext(p string) string {
	if p == PagesPath || p == Root {
		return p
	}
	return Root
}
