package admin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/settings"
)

// SessionCookie is the name of the cookie that lets a browser use the
// operator pages and the API after it presented the admin token once. The
// composer never forwards it to a fragment.
const SessionCookie = config.SessionCookie

// CSRFHeader carries the session's CSRF token on every write made with the
// session cookie.
const CSRFHeader = "X-CSRF-Token"

// SessionPath is the cookie's path: the operator pages and the API.
const SessionPath = "/_tessera/"

// DefaultSessionTTL is how long a session lasts when NewSessions is given 0.
const DefaultSessionTTL = 12 * time.Hour

// Access says how a request was let in.
type Access int

// The ways in.
const (
	// AccessDenied: no token, a wrong one, or no session.
	AccessDenied Access = iota
	// AccessLoopback: no token is configured and the request comes from
	// the composer's own host, not through a proxy.
	AccessLoopback
	// AccessBearer: the admin token as "Authorization: Bearer".
	AccessBearer
	// AccessSession: a valid session cookie.
	AccessSession
)

// Sessions signs and checks browser sessions for the operator pages. A
// session cookie holds an expiry, a random session id and an HMAC over them
// and the admin token's digest, keyed with a key derived from the token: it
// never holds the token, every composer with the same token accepts it (so
// it works behind a load balancer and across restarts), and changing the
// token ends every session. Signing out revokes the session id: in the
// shared Revocations when there are some, so that every composer refuses
// it, and in this process in any case. Wrong tokens are limited per client
// address. It is safe for concurrent use.
type Sessions struct {
	tokenHash []byte // nil: no token configured
	key       []byte
	ttl       time.Duration
	now       func() time.Time
	hosts     atomic.Pointer[knownHosts]
	shared    Revocations // nil: this process only
	revoked   *revokedSet
	limit     *signInLimiter
	log       *slog.Logger
}

// Revocations keep the ids of signed-out sessions until they would have
// expired, for every composer that shares them. Implementations must be
// safe for concurrent use; SessionRevoked returns (false, nil) for an id
// never revoked. settings.Store is one (in Redis; in-process it keeps
// nothing, and the Sessions' own record is the only one).
type Revocations interface {
	RevokeSession(ctx context.Context, id string, until time.Time) error
	SessionRevoked(ctx context.Context, id string) (bool, error)
}

// SessionOptions configure Sessions; the zero value is usable.
type SessionOptions struct {
	// TTL is how long a session lasts (DefaultSessionTTL when 0).
	TTL time.Duration
	// Hosts are the names the composer is known by besides localhost,
	// 127.0.0.1, [::1] and the address a request reached (see
	// Options.Hosts).
	Hosts []string
	// Revocations, when set, share sign-outs with every composer using
	// them.
	Revocations Revocations
	// SignInFailures wrong tokens from one client address within
	// SignInWindow make it wait until the window ends (defaults 5 and 1m).
	SignInFailures int
	SignInWindow   time.Duration
	Logger         *slog.Logger
}

// NewSessions returns the sessions for an admin token ("" for none, in
// which case nobody can sign in and only loopback requests are let in).
func NewSessions(token string, o SessionOptions) *Sessions {
	if o.TTL <= 0 {
		o.TTL = DefaultSessionTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sessions{ttl: o.TTL, now: time.Now, shared: o.Revocations,
		revoked: newRevokedSet(maxRevoked), log: o.Logger}
	s.limit = newSignInLimiter(o.SignInFailures, o.SignInWindow, func() time.Time { return s.now() })
	s.SetHosts(o.Hosts)
	if token == "" {
		// Nobody can sign in; a random key makes any cookie worthless.
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			panic("admin: no randomness for the session key: " + err.Error())
		}
		return s
	}
	h := sha256.Sum256([]byte(token))
	s.tokenHash = h[:]
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("tessera admin session key v1"))
	s.key = m.Sum(nil)
	return s
}

// TokenRequired reports whether an admin token is configured.
func (s *Sessions) TokenRequired() bool { return s.tokenHash != nil }

// matches reports whether s was made for tokenHash.
func (s *Sessions) matches(tokenHash []byte) bool { return bytes.Equal(s.tokenHash, tokenHash) }

// KnownHost reports whether rc names a host the composer is known by; the
// operator pages and the API answer no other (see Options.Hosts).
func (s *Sessions) KnownHost(rc *fasthttp.RequestCtx) bool { return s.hosts.Load().allows(rc) }

// SetHosts replaces the further names the composer is known by (see
// SessionOptions.Hosts), as when a reloaded config changes admin.hosts.
func (s *Sessions) SetHosts(names []string) {
	k := newKnownHosts(names)
	s.hosts.Store(&k)
}

// checked is the user value under which a request's access is kept, so
// the several checks of one request cost one look-up of the revocations.
const checked = "tessera.admin.access"

type verdict struct {
	access Access
	err    *Error
}

// Check says how rc may use the operator pages, with the same rule as the
// API (a known Host, and the admin token as a bearer token or, with no
// token configured, loopback only) plus the session cookie. When it is
// denied, the error's status is 401 (sign in), 403 (an unknown Host, or no
// token configured and not loopback) or 429 (too many wrong tokens).
func (s *Sessions) Check(rc *fasthttp.RequestCtx) (Access, *Error) {
	return s.check(rc, true)
}

func (s *Sessions) check(rc *fasthttp.RequestCtx, cookies bool) (Access, *Error) {
	if v, ok := rc.UserValue(checked).(verdict); ok {
		return v.access, v.err
	}
	a, err := s.decide(rc, cookies)
	rc.SetUserValue(checked, verdict{a, err})
	return a, err
}

func (s *Sessions) decide(rc *fasthttp.RequestCtx, cookies bool) (Access, *Error) {
	if !s.hosts.Load().allows(rc) {
		return AccessDenied, unknownHost(rc)
	}
	auth := rc.Request.Header.Peek(fasthttp.HeaderAuthorization)
	client := clientKey(rc.RemoteIP())
	if len(auth) > 0 && s.tokenHash != nil {
		if wait := s.limit.blocked(client); wait > 0 {
			return AccessDenied, limited(wait)
		}
	}
	status := decide(s.tokenHash, auth, rc.RemoteIP(), proxied(rc))
	switch {
	case status == 0 && s.tokenHash == nil:
		return AccessLoopback, nil
	case status == 0:
		return AccessBearer, nil
	case cookies && s.active(rc):
		return AccessSession, nil
	}
	if len(auth) > 0 && s.tokenHash != nil {
		if wait := s.failed(rc, client, "bearer"); wait > 0 {
			return AccessDenied, limited(wait)
		}
	}
	return AccessDenied, refusal(status)
}

// active reports whether rc carries a session cookie that is valid and
// not signed out.
func (s *Sessions) active(rc *fasthttp.RequestCtx) bool {
	id, _, ok := s.session(rc.Request.Header.Cookie(SessionCookie))
	if !ok {
		return false
	}
	if s.revoked.has(id, s.now()) {
		return false
	}
	if s.shared == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), revocationTimeout)
	defer cancel()
	revoked, err := s.shared.SessionRevoked(ctx, id)
	if err != nil {
		// The store logs the outage once. Sessions signed out here stay
		// refused; one signed out elsewhere passes until it answers.
		return true
	}
	return !revoked
}

// revocationTimeout bounds the look-up of a session in the shared
// revocations.
const revocationTimeout = 300 * time.Millisecond

// ErrWrongToken is returned by SignIn for a token that is not the admin
// token (or when none is configured).
var ErrWrongToken = errors.New("admin: not the admin token")

// failed records a wrong token from client and logs it; it returns how
// long the client must now wait (0 while it has tries left).
func (s *Sessions) failed(rc *fasthttp.RequestCtx, client, via string) time.Duration {
	wait := s.limit.fail(client)
	if wait > 0 {
		s.log.Warn("admin sign-in limited: too many wrong tokens", "remote", rc.RemoteIP().String(), "via", via,
			"failures", s.limit.max, "window", settings.FormatDuration(s.limit.window), "retry_after", settings.FormatDuration(wait.Round(time.Second)))
	} else {
		s.log.Info("admin sign-in refused: wrong token", "remote", rc.RemoteIP().String(), "via", via)
	}
	return wait
}

// SignIn checks token against the admin token and, when it matches, sets a
// new session cookie on rc's response. It returns ErrWrongToken for
// another token, and a *LimitedError once the client address presented
// too many wrong ones; the failures are logged.
func (s *Sessions) SignIn(rc *fasthttp.RequestCtx, token []byte) error {
	if s.tokenHash == nil {
		return ErrWrongToken
	}
	client := clientKey(rc.RemoteIP())
	if wait := s.limit.blocked(client); wait > 0 {
		return &LimitedError{RetryAfter: wait}
	}
	got := sha256.Sum256(bytes.TrimSpace(token))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash) != 1 {
		if wait := s.failed(rc, client, "form"); wait > 0 {
			return &LimitedError{RetryAfter: wait}
		}
		return ErrWrongToken
	}
	s.limit.succeed(client)
	exp := s.now().Add(s.ttl).Unix()
	s.setCookie(rc, s.sign(exp), s.ttl)
	return nil
}

// LimitedError is returned by SignIn when the client address presented
// too many wrong tokens.
type LimitedError struct {
	// RetryAfter is how long until it may try again.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return "admin: too many wrong tokens from this address; try again in " + settings.FormatDuration(retrySeconds(e.RetryAfter))
}

// limited is the API's answer to a client that must wait.
func limited(wait time.Duration) *Error {
	return &Error{Status: fasthttp.StatusTooManyRequests, RetryAfter: wait,
		Msg: "too many wrong admin tokens from this address; try again in " + settings.FormatDuration(retrySeconds(wait))}
}

// retrySeconds rounds a wait up to whole seconds, as Retry-After has it.
func retrySeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// SignOut ends rc's session: it clears the cookie and revokes the session,
// in this process and in the shared revocations. An error says the shared
// revocations did not take it (other composers may accept the session
// until it expires); this one refuses it anyway.
func (s *Sessions) SignOut(rc *fasthttp.RequestCtx) error {
	s.setCookie(rc, "", -1)
	id, exp, ok := s.session(rc.Request.Header.Cookie(SessionCookie))
	if !ok {
		return nil
	}
	s.revoked.add(id, exp, s.now())
	rc.SetUserValue(checked, nil)
	if s.shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.shared.RevokeSession(ctx, id, exp)
}

// CSRFToken returns the token a page served to rc must send back with a
// write: derived from the session, so each session has its own. With
// loopback access it is one per process; with bearer access none is
// needed, and "" is returned.
func (s *Sessions) CSRFToken(rc *fasthttp.RequestCtx) string {
	a, _ := s.Check(rc)
	switch a {
	case AccessSession:
		return s.csrf(rc.Request.Header.Cookie(SessionCookie))
	case AccessLoopback:
		return s.csrf(nil)
	}
	return ""
}

// CheckCSRF reports whether got is the CSRF token for rc's access. A
// request carrying the admin token as a bearer token needs none: a browser
// never adds it by itself.
func (s *Sessions) CheckCSRF(rc *fasthttp.RequestCtx, got []byte) bool {
	a, _ := s.Check(rc)
	if a == AccessBearer {
		return true
	}
	want := s.CSRFToken(rc)
	return want != "" && subtle.ConstantTimeCompare(got, []byte(want)) == 1
}

// SameOrigin reports whether a write comes from a page of this composer (or
// from no browser page at all), judged by Sec-Fetch-Site and Origin.
func SameOrigin(rc *fasthttp.RequestCtx) bool { return !crossOrigin(rc) }

// sign returns the value of a new session ending at exp (Unix seconds):
// "EXP.NONCE.MAC". The random nonce makes every session, and so its CSRF
// token, distinct.
func (s *Sessions) sign(exp int64) string {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		panic("admin: no randomness for a session: " + err.Error())
	}
	payload := strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(nonce)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", []byte(payload)))
}

// valid reports whether a cookie value is a session for the configured
// token, not expired (whether or not it was signed out).
func (s *Sessions) valid(v []byte) bool {
	_, _, ok := s.session(v)
	return ok
}

// session reads a cookie value: the session's id (its nonce) and expiry,
// when it is a session for the configured token, not expired.
func (s *Sessions) session(v []byte) (id string, exp time.Time, ok bool) {
	if s.tokenHash == nil || len(v) == 0 || len(v) > 160 {
		return "", time.Time{}, false
	}
	i := bytes.LastIndexByte(v, '.')
	if i < 0 {
		return "", time.Time{}, false
	}
	payload, sig := v[:i], v[i+1:]
	e, nonce, ok := bytes.Cut(payload, []byte("."))
	if !ok {
		return "", time.Time{}, false
	}
	unix, err := strconv.ParseInt(string(e), 10, 64)
	if err != nil || s.now().Unix() >= unix {
		return "", time.Time{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(string(sig))
	if err != nil || !hmac.Equal(got, s.mac("session", payload)) {
		return "", time.Time{}, false
	}
	return string(nonce), time.Unix(unix, 0), true
}

func (s *Sessions) csrf(session []byte) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", session))
}

// mac is the HMAC of a purpose, the token's digest and data.
func (s *Sessions) mac(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(s.tokenHash)
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

func (s *Sessions) setCookie(rc *fasthttp.RequestCtx, value string, maxAge time.Duration) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(SessionCookie)
	c.SetValue(value)
	c.SetPath(SessionPath)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(secure(rc))
	if maxAge < 0 {
		c.SetExpire(fasthttp.CookieExpireDelete)
		c.SetMaxAge(-1)
	} else {
		c.SetMaxAge(int(maxAge / time.Second))
	}
	rc.Response.Header.SetCookie(c)
}

// secure reports a request that reached us, or the proxy in front, over
// TLS: the cookie must then never travel in clear.
func secure(rc *fasthttp.RequestCtx) bool {
	return rc.IsTLS() || bytes.EqualFold(rc.Request.Header.Peek("X-Forwarded-Proto"), []byte("https"))
}

// authorize lets a request into the API: by the rule of Sessions.Check,
// with a session cookie only when the API was given the sessions, and then
// with the session's CSRF token on writes.
func (a *api) authorize(rc *fasthttp.RequestCtx) error {
	access, err := a.sessions.check(rc, a.cookies)
	if err != nil {
		return err
	}
	if access == AccessSession && !rc.IsGet() && !rc.IsHead() && !a.sessions.CheckCSRF(rc, rc.Request.Header.Peek(CSRFHeader)) {
		return &Error{Status: fasthttp.StatusForbidden, Msg: "missing or wrong CSRF token: reload the dashboard and try again"}
	}
	return nil
}

// errSessionsToken is returned by New when Options.Sessions was made for
// another token than Options.Token.
var errSessionsToken = errors.New("admin: the sessions were made for another token")
