package fragment

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Header names of the fragment protocol.
const (
	HeaderVersion   = protocol.HeaderVersion
	HeaderDate      = protocol.HeaderDate
	HeaderSignature = protocol.HeaderSignature
)

// DefaultReplayWindow is how far the date of a signed request may be from the
// server's clock, in either direction, when [Auth.Window] is zero.
const DefaultReplayWindow = protocol.DefaultReplayWindow

// ErrUnauthorized is wrapped by every error that [Auth.Verify],
// [VerifyBearer] and [VerifySignature] return. The wrapping error says why
// the credentials were refused; it never contains a secret.
var ErrUnauthorized = protocol.ErrUnauthorized

// AuthMode names how a route checks its caller.
type AuthMode string

// The supported modes.
const (
	AuthNone   AuthMode = "none"
	AuthBearer AuthMode = "bearer"
	AuthHMAC   AuthMode = "hmac"
)

// Auth says how a route checks its caller. The zero value accepts every
// request, like [NoAuth]. Printing or logging an Auth shows only its mode.
type Auth struct {
	Mode AuthMode
	// Token is the expected bearer token (AuthBearer).
	Token string
	// Secret is the shared HMAC key (AuthHMAC).
	Secret []byte
	// Window bounds the age of a signed request (AuthHMAC); zero means
	// DefaultReplayWindow.
	Window time.Duration
	// Now is the clock used to check the replay window; nil means time.Now.
	Now func() time.Time
}

// NoAuth returns an Auth that accepts every request.
func NoAuth() Auth { return Auth{Mode: AuthNone} }

// BearerAuth returns an Auth that requires "Authorization: Bearer <token>".
func BearerAuth(token string) Auth { return Auth{Mode: AuthBearer, Token: token} }

// HMACAuth returns an Auth that requires a request signed with secret by
// [SignRequest], within [DefaultReplayWindow].
func HMACAuth(secret []byte) Auth { return Auth{Mode: AuthHMAC, Secret: secret} }

// String returns the mode only, so that secrets never reach a log line.
func (a Auth) String() string {
	if a.Mode == "" {
		return string(AuthNone)
	}
	return string(a.Mode)
}

// GoString returns the mode only, so that %#v does not print secrets.
func (a Auth) GoString() string { return "fragment.Auth{Mode:" + strconv.Quote(a.String()) + "}" }

// LogValue returns the mode only, so that secrets never reach a log line.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Validate reports whether the Auth is complete: a known mode with its
// credential set.
func (a Auth) Validate() error {
	switch a.Mode {
	case "", AuthNone:
		return nil
	case AuthBearer:
		if a.Token == "" {
			return errors.New("fragment: bearer auth needs a token")
		}
	case AuthHMAC:
		if len(a.Secret) == 0 {
			return errors.New("fragment: hmac auth needs a secret")
		}
		if a.Window < 0 {
			return errors.New("fragment: hmac replay window must not be negative")
		}
	default:
		return fmt.Errorf("fragment: unknown auth mode %q", string(a.Mode))
	}
	return nil
}

// Verify checks the credentials of req. It returns nil when they are
// accepted and otherwise an error wrapping [ErrUnauthorized].
func (a Auth) Verify(req *fasthttp.Request) error {
	switch a.Mode {
	case "", AuthNone:
		return nil
	case AuthBearer:
		return VerifyBearer(req, a.Token)
	case AuthHMAC:
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		w := a.Window
		if w == 0 {
			w = DefaultReplayWindow
		}
		return VerifySignature(req, a.Secret, now(), w)
	default:
		return fmt.Errorf("%w: unknown auth mode", ErrUnauthorized)
	}
}

// SetBearer sets "Authorization: Bearer <token>" on req.
func SetBearer(req *fasthttp.Request, token string) { protocol.SetBearer(req, token) }

// VerifyBearer checks that req carries "Authorization: Bearer <token>", in
// time independent of the presented token.
func VerifyBearer(req *fasthttp.Request, token string) error {
	return protocol.VerifyBearer(req, token)
}

// Sign returns the X-Tessera-Signature value ("v1=<hex>") for a request with
// the given method, path, raw query (without '?') and date (unix seconds).
func Sign(secret []byte, method, path, rawQuery string, date int64) string {
	return protocol.Sign(secret, method, path, rawQuery, date)
}

// SignRequest signs req with secret at time now by setting X-Tessera-Date
// and X-Tessera-Signature. Call it once the method and URI (query included)
// are final.
func SignRequest(req *fasthttp.Request, secret []byte, now time.Time) {
	protocol.SignRequest(req, secret, now)
}

// VerifySignature checks the X-Tessera-Date and X-Tessera-Signature headers
// of req against secret: the signature must match and the date must be
// within window of now.
func VerifySignature(req *fasthttp.Request, secret []byte, now time.Time, window time.Duration) error {
	return protocol.VerifySignature(req, secret, now, window)
}
