package upstream

import (
	"strconv"
	"strings"
	"time"
)

// CacheControl holds the directives of a Cache-Control header that matter
// to a shared cache.
type CacheControl struct {
	MaxAge, SMaxAge    time.Duration
	HasMaxAge, HasSMax bool
	SWR, SIE           time.Duration
	NoStore, NoCache   bool
	Private, MustReval bool
	// Public says the answer may be shared even though the request carried
	// a user's forwarded values (RFC 9111 3.5, as for Authorization).
	Public bool
}

// TTL is the freshness lifetime for a shared cache: s-maxage before max-age;
// no-cache means zero.
func (cc CacheControl) TTL() time.Duration {
	switch {
	case cc.NoCache:
		return 0
	case cc.HasSMax:
		return cc.SMaxAge
	case cc.HasMaxAge:
		return cc.MaxAge
	}
	return 0
}

// ParseCacheControl parses a Cache-Control header leniently (RFC 9111 5.2):
// unknown directives are ignored, and a malformed or negative delta-seconds
// value makes the response not storable for that directive.
func ParseCacheControl(h string) CacheControl {
	var cc CacheControl
	for len(h) > 0 {
		var d string
		d, h, _ = strings.Cut(h, ",")
		d = strings.TrimSpace(d)
		name, val, hasVal := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		secs := func() (time.Duration, bool) {
			if !hasVal {
				return 0, false
			}
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return 0, false
			}
			return time.Duration(n) * time.Second, true
		}
		switch name {
		case "max-age":
			cc.MaxAge, cc.HasMaxAge = secs()
		case "s-maxage":
			cc.SMaxAge, cc.HasSMax = secs()
		case "stale-while-revalidate":
			cc.SWR, _ = secs()
		case "stale-if-error":
			cc.SIE, _ = secs()
		case "no-store":
			cc.NoStore = true
		case "no-cache":
			cc.NoCache = true
		case "private":
			cc.Private = true
		case "public":
			cc.Public = true
		case "must-revalidate", "proxy-revalidate":
			cc.MustReval = true
		}
	}
	if cc.MustReval {
		cc.SWR, cc.SIE = 0, 0
	}
	return cc
}

// Shareable reports whether an answer may be stored or handed to another
// user: never when it says no-store or private or sets a cookie, and, when
// the request carried a user's forwarded values, only when the fragment
// says public or s-maxage (as RFC 9111 3.5 has it for Authorization).
func Shareable(cc CacheControl, setsCookie, personal bool) bool {
	if cc.NoStore || cc.Private || setsCookie {
		return false
	}
	return !personal || cc.Public || cc.HasSMax
}
