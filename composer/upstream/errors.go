package upstream

import "errors"

// Error categories a caller may branch on with errors.Is.
var (
	ErrFragmentTimeout  = errors.New("fragment timed out")
	ErrFragmentStatus   = errors.New("fragment answered with an error status")
	ErrFragmentTooLarge = errors.New("fragment body too large")
	ErrFragmentType     = errors.New("fragment sent a non-HTML content type")
	ErrFragmentFetch    = errors.New("fragment fetch failed")
	ErrFragmentVersion  = errors.New("fragment version outside the accepted range")
)

// Reason names an error for metrics and logs.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrFragmentTimeout):
		return "timeout"
	case errors.Is(err, ErrFragmentStatus):
		return "status"
	case errors.Is(err, ErrFragmentTooLarge):
		return "too_large"
	case errors.Is(err, ErrFragmentType):
		return "content_type"
	case errors.Is(err, ErrFragmentVersion):
		return "version"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrPanic):
		return "panic"
	case errors.Is(err, ErrFragmentRedirect):
		return "redirect"
	default:
		return "fetch"
	}
}

// ErrCircuitOpen reports a fragment skipped because its circuit breaker is
// open: it failed repeatedly and is left alone for a cool-down.
var ErrCircuitOpen = errors.New("fragment circuit open")

// ErrFragmentRedirect reports a redirect a fragment answered that is not
// allowed: a location off the site that no redirect_hosts entry names, or
// one browsers could read as another host.
var ErrFragmentRedirect = errors.New("fragment redirect refused")

// ErrPanic reports a slot whose work panicked; the page degrades.
var ErrPanic = errors.New("panic")
