package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// SessionCookie is the name of the cookie that lets a browser use the
// operator pages and the API after it presented the admin token once.
const SessionCookie = "tessera_session"

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
// session cookie holds an expiry, a random nonce and an HMAC over them and
// the admin token's digest, keyed with a key derived from the token: it
// never holds the token, every composer with the same token accepts it (so
// it works behind a load balancer and across restarts), and changing the
// token ends every session. It is safe for concurrent use.
type Sessions struct {
	tokenHash []byte // nil: no token configured
	key       []byte
	ttl       time.Duration
	now       func() time.Time
}

// NewSessions returns the sessions for an admin token ("" for none, in
// which case nobody can sign in and only loopback requests are let in).
// ttl is how long a session lasts (DefaultSessionTTL when 0).
func NewSessions(token string, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	s := &Sessions{ttl: ttl, now: time.Now}
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

// Check says how rc may use the operator pages, with the same rule as the
// API (the admin token as a bearer token; with no token configured,
// loopback only) plus the session cookie. When it is denied, status is
// 401 (sign in) or 403 (no token configured and not loopback).
func (s *Sessions) Check(rc *fasthttp.RequestCtx) (a Access, status int) {
	status = decide(s.tokenHash, rc.Request.Header.Peek(fasthttp.HeaderAuthorization), rc.RemoteIP(), proxied(rc))
	switch {
	case status == 0 && s.tokenHash == nil:
		return AccessLoopback, 0
	case status == 0:
		return AccessBearer, 0
	case s.valid(rc.Request.Header.Cookie(SessionCookie)):
		return AccessSession, 0
	}
	return AccessDenied, status
}

// SignIn checks token against the admin token and, when it matches, sets a
// new session cookie on rc's response.
func (s *Sessions) SignIn(rc *fasthttp.RequestCtx, token []byte) bool {
	if s.tokenHash == nil {
		return false
	}
	got := sha256.Sum256(bytes.TrimSpace(token))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash) != 1 {
		return false
	}
	exp := s.now().Add(s.ttl).Unix()
	s.setCookie(rc, s.sign(exp), s.ttl)
	return true
}

// SignOut clears the session cookie.
func (s *Sessions) SignOut(rc *fasthttp.RequestCtx) {
	s.setCookie(rc, "", -1)
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

// valid reports whether a cookie value is a session of this process, for
// the configured token, not expired.
func (s *Sessions) valid(v []byte) bool {
	if s.tokenHash == nil || len(v) == 0 || len(v) > 160 {
		return false
	}
	i := bytes.LastIndexByte(v, '.')
	if i < 0 {
		return false
	}
	payload, sig := v[:i], v[i+1:]
	e, _, ok := bytes.Cut(payload, []byte("."))
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(string(e), 10, 64)
	if err != nil || s.now().Unix() >= exp {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(string(sig))
	return err == nil && hmac.Equal(got, s.mac("session", payload))
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

// authorize lets a request into the API: by the rule of decide, or by a
// session cookie, which must come with the session's CSRF token on writes.
func (a *api) authorize(rc *fasthttp.RequestCtx) error {
	status := decide(a.tokenHash, rc.Request.Header.Peek(fasthttp.HeaderAuthorization), rc.RemoteIP(), proxied(rc))
	if status == 0 {
		return nil
	}
	if a.sessions == nil || !a.sessions.valid(rc.Request.Header.Cookie(SessionCookie)) {
		return refusal(status)
	}
	if !rc.IsGet() && !rc.IsHead() && !a.sessions.CheckCSRF(rc, rc.Request.Header.Peek(CSRFHeader)) {
		return &Error{Status: fasthttp.StatusForbidden, Msg: "missing or wrong CSRF token: reload the dashboard and try again"}
	}
	return nil
}

// errSessionsToken is returned by New when Options.Sessions was made for
// another token than Options.Token.
var errSessionsToken = errors.New("admin: the sessions were made for another token")
