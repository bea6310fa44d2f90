package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Header names of the fragment protocol.
const (
	// HeaderVersion carries a fragment's semantic version in its answer.
	HeaderVersion = "X-Fragment-Version"
	// HeaderDate and HeaderSignature carry an HMAC-signed request's date
	// (unix seconds) and signature ("v1=<hex>").
	HeaderDate      = "X-Tessera-Date"
	HeaderSignature = "X-Tessera-Signature"
	// HeaderRequestID and HeaderTraceparent correlate a fragment's work
	// with the page it is part of.
	HeaderRequestID   = "X-Request-Id"
	HeaderTraceparent = "traceparent"
)

// NameRule says in words what a fragment or input name may be.
const NameRule = "a lowercase letter, then lowercase letters, digits and single dashes, at most 63 characters, not ending in a dash"

// MaxNameLen bounds a fragment or input name.
const MaxNameLen = 63

// NamePattern is the grammar of fragment and input names (see NameRule).
var NamePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// ValuePattern is the grammar of slot parameters and input values (see
// ValueRule).
var ValuePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidName reports whether s is a valid fragment or input name: the one
// grammar every part of Tessera uses.
func ValidName(s string) bool { return len(s) <= MaxNameLen && NamePattern.MatchString(s) }

// CheckName returns an error naming what is wrong with a fragment or input
// name, nil when it is valid.
func CheckName(s string) error {
	if ValidName(s) {
		return nil
	}
	return fmt.Errorf("%q is not a valid name: use %s", truncate([]byte(s), 40), NameRule)
}

// MaxValueLen bounds a slot parameter key or value, or an input value.
const MaxValueLen = 64

// ValidValue reports whether v may be a slot parameter key or value or an
// input value: 1 to 64 characters from [A-Za-z0-9_.-].
func ValidValue[T string | []byte](v T) bool {
	if len(v) == 0 || len(v) > MaxValueLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValueRule says in words what a value may be.
const ValueRule = "1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'"

// Slot markers look like <!--@slot:NAME--> or <!--@slot:NAME k=v k2=v2-->.
var (
	MarkerOpen  = []byte("<!--@slot:")
	MarkerClose = []byte("-->")
)

// MaxMarkerLen bounds one marker, so that hostile markup cannot make the
// parser scan far for a close that never comes.
const MaxMarkerLen = 512

// Marker is one parsed slot marker.
type Marker struct {
	Name   string
	Params []Param
}

// Param is one k=v pair of a slot marker.
type Param struct{ Key, Value string }

// Part is a piece of markup: static bytes, or a slot marker.
type Part struct {
	Static []byte
	Marker *Marker
}

// ErrBadMarker reports a slot marker that cannot be parsed.
var ErrBadMarker = errors.New("bad slot marker")

// HasMarker reports whether html holds anything that opens a slot marker.
// It looks for the marker's '@', which is rare in HTML, and not for its
// '<', which opens every tag: most answers have no marker, and this is
// checked on every one.
func HasMarker(html []byte) bool {
	const at = 4 // MarkerOpen[at] == '@'
	for i := at; i < len(html); i++ {
		j := bytes.IndexByte(html[i:], '@')
		if j < 0 {
			return false
		}
		i += j
		if bytes.HasPrefix(html[i-at:], MarkerOpen) {
			return true
		}
	}
	return false
}

// ParseMarkers splits HTML into static parts and slot markers. A malformed
// marker is an error, so that a layout typo is caught at load time rather
// than shipped as a literal comment.
func ParseMarkers(html []byte) ([]Part, error) {
	var parts []Part
	for len(html) > 0 {
		i := bytes.Index(html, MarkerOpen)
		if i < 0 {
			parts = append(parts, Part{Static: html})
			break
		}
		if i > 0 {
			parts = append(parts, Part{Static: html[:i]})
		}
		rest := html[i+len(MarkerOpen):]
		limit := rest
		if len(limit) > MaxMarkerLen {
			limit = limit[:MaxMarkerLen]
		}
		j := bytes.Index(limit, MarkerClose)
		if j < 0 {
			return nil, fmt.Errorf("%w: unterminated %q", ErrBadMarker, truncate(html[i:], 40))
		}
		m, err := parseMarker(string(rest[:j]))
		if err != nil {
			return nil, err
		}
		parts = append(parts, Part{Marker: m})
		html = rest[j+len(MarkerClose):]
	}
	return parts, nil
}

func parseMarker(s string) (*Marker, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no fragment name", ErrBadMarker)
	}
	m := &Marker{Name: fields[0]}
	if !ValidName(m.Name) {
		return nil, fmt.Errorf("%w: fragment name %q must be %s", ErrBadMarker, truncate([]byte(m.Name), 40), NameRule)
	}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !ValidValue(k) || !ValidValue(v) {
			return nil, fmt.Errorf("%w: parameter %q of %q must be key=value, each %s", ErrBadMarker, truncate([]byte(f), 40), m.Name, ValueRule)
		}
		m.Params = append(m.Params, Param{Key: k, Value: v})
	}
	return m, nil
}

// AppendMarker appends the marker for name with params ("k=v" each) to b.
// It reports false, appending nothing, when the name or a parameter is
// invalid, so that a bad marker can neither break out of its comment nor
// reach the composer half-formed.
func AppendMarker(b []byte, name string, params ...string) ([]byte, bool) {
	if !ValidName(name) {
		return b, false
	}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !ValidValue(k) || !ValidValue(v) {
			return b, false
		}
	}
	b = append(b, MarkerOpen...)
	b = append(b, name...)
	for _, p := range params {
		b = append(b, ' ')
		b = append(b, p...)
	}
	return append(b, MarkerClose...), true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
