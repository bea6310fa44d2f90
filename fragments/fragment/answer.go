package fragment

import (
	"fmt"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// markupAnswer is a status other than 200 that comes with markup: the
// page's 404 or 410 when the fragment is its primary.
type markupAnswer struct {
	status int
	c      templ.Component
}

func (e *markupAnswer) Error() string {
	return fmt.Sprintf("fragment: %d with markup: only a SnippetFunc may answer so", e.status)
}

// NotFound, returned from a SnippetFunc, answers 404 with c rendered as
// the body, with the same Cache-Control, version and Link headers as a
// snippet: the page's status when the fragment is its primary, its
// markup in the slot.
//
//	return nil, fragment.NotFound(notFoundView())
func NotFound(c templ.Component) error {
	return &markupAnswer{status: fasthttp.StatusNotFound, c: c}
}

// Gone is [NotFound] with status 410: the thing existed and was removed
// for good.
func Gone(c templ.Component) error {
	return &markupAnswer{status: fasthttp.StatusGone, c: c}
}

// redirectAnswer is a redirect a SnippetFunc asked for.
type redirectAnswer struct {
	code     int
	location string
}

func (e *redirectAnswer) Error() string {
	return fmt.Sprintf("fragment: redirect %d to %q: only a SnippetFunc may answer so", e.code, e.location)
}

// Redirect, returned from a SnippetFunc, answers code (301, 302, 303, 307
// or 308) with Location: location, and the snippet's Cache-Control. The
// location is a path on the site ("/news/new-slug", protocol.SitePath) or
// an absolute http or https URL without user info, whose host the
// composer's redirect_hosts must list. Another code or location is a
// programming error: the answer is then a 500 and the error is logged.
//
//	return nil, fragment.Redirect(fasthttp.StatusMovedPermanently, "/news/new-slug")
func Redirect(code int, location string) error {
	return &redirectAnswer{code: code, location: location}
}

// check says what is wrong with the redirect, if anything.
func (e *redirectAnswer) check() error {
	if !protocol.IsRedirect(e.code) {
		return fmt.Errorf("redirect code %d is not one of 301, 302, 303, 307, 308", e.code)
	}
	if _, ok := protocol.AbsoluteHTTP(e.location); ok || protocol.SitePath(e.location) {
		return nil
	}
	return fmt.Errorf("redirect location %q is neither a path on the site (one leading /, no backslash, space or control character) nor an absolute http or https URL", e.location)
}
