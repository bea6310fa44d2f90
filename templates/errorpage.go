package templates

import (
	"net/http"
	"strconv"

	"github.com/a-h/templ"
)

// ErrorData is what the error page shows.
type ErrorData struct {
	// Status is the HTTP status code; one that is not a known status shows
	// as 500.
	Status int
	// Title is the heading; empty means the status text, e.g. "Not Found".
	Title string
	// Message explains what happened to the visitor; empty means a generic
	// message for the status class. It must not carry internal details.
	Message string
	// RequestID identifies the request in the logs; shown for support when
	// set.
	RequestID string
}

// NotFound returns the error page for a missing page (404).
func NotFound(requestID string) templ.Component {
	return ErrorPage(ErrorData{
		Status:    http.StatusNotFound,
		Title:     "Page not found",
		Message:   "We couldn't find the page you were looking for. It may have moved, or the address may be mistyped.",
		RequestID: requestID,
	})
}

// normalized fills in the defaults described on ErrorData.
func (d ErrorData) normalized() ErrorData {
	if http.StatusText(d.Status) == "" {
		d.Status = http.StatusInternalServerError
	}
	d.Title = orDefault(d.Title, http.StatusText(d.Status))
	if orDefault(d.Message, "") == "" {
		switch {
		case d.Status == http.StatusNotFound:
			d.Message = "We couldn't find the page you were looking for."
		case d.Status >= 500:
			d.Message = "Something went wrong on our side. Please try again in a moment."
		default:
			d.Message = "The request could not be completed."
		}
	}
	return d
}

func (d ErrorData) statusText() string { return strconv.Itoa(d.Status) }

func (d ErrorData) documentTitle() string { return d.statusText() + " " + d.Title }
