package protocol

import (
	"bytes"
	"net/url"
	"strings"
	"unicode/utf8"
)

// What a fragment's answer may carry besides its markup (see
// docs/fragment-contract.md).
const (
	// HeaderLink declares the answer's assets, one per link-value:
	//	Link: </assets/headlines.3f2a9c1b.css>; rel=stylesheet
	//	Link: </assets/headlines.77e0d1aa.js>; rel=script
	HeaderLink = "Link"
	// HeaderTitle, HeaderDescription, HeaderCanonical and HeaderRobots
	// carry a primary fragment's page head, each value percent-encoded
	// UTF-8 (EncodeHeadValue).
	HeaderTitle       = "X-Fragment-Title"
	HeaderDescription = "X-Fragment-Description"
	HeaderCanonical   = "X-Fragment-Canonical"
	HeaderRobots      = "X-Fragment-Robots"
)

// Bounds on what one answer may declare; the composer drops what goes
// past them.
const (
	// MaxAssets is the most assets one answer may declare.
	MaxAssets = 16
	// MaxLinkBytes bounds the Link header values of one answer together.
	MaxLinkBytes = 4 << 10
	// MaxAssetPath bounds one asset's path.
	MaxAssetPath = 200
	// MaxTitle, MaxDescription, MaxCanonical and MaxRobots bound the
	// decoded head values, in bytes.
	MaxTitle       = 200
	MaxDescription = 400
	MaxCanonical   = 512
	MaxRobots      = 64
)

// AssetCacheControl is the Cache-Control of an asset, from the fragment
// service and from the composer alike: its name holds a hash of its bytes,
// so a copy never goes stale.
const AssetCacheControl = "public, max-age=31536000, immutable"

// AssetKind is what an asset is to the page.
type AssetKind uint8

// The asset kinds: a stylesheet, placed as <link rel=stylesheet>, and a
// script, placed as <script type=module>.
const (
	Stylesheet AssetKind = iota + 1
	Script
)

func (k AssetKind) String() string {
	switch k {
	case Stylesheet:
		return "stylesheet"
	case Script:
		return "script"
	}
	return "unknown"
}

// Asset is one stylesheet or script a fragment declared, by its path on
// the fragment service.
type Asset struct {
	Kind AssetKind
	Path string
}

// AssetRule says in words what an asset path may be.
const AssetRule = "a path on the fragment service such as /assets/name.1a2b3c4d.css: 1 to 200 characters from A-Z, a-z, 0-9, '/', '.', '_', '-' and '~', starting with one '/', with no empty, '.' or '..' segment"

// ValidAssetPath reports whether p may name an asset (see AssetRule): a
// path on the fragment service, never a scheme, another host, a query or
// a way out of its directory.
func ValidAssetPath(p string) bool {
	if len(p) < 2 || len(p) > MaxAssetPath || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
			return false
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// LinkResult is what ParseLinks kept and what it refused.
type LinkResult struct {
	Assets []Asset
	// Refused counts link-values naming a stylesheet or script that were
	// not valid asset paths, or past MaxAssets or MaxLinkBytes.
	Refused int
}

// ParseLinks reads assets from an answer's Link header values. Values of
// other relations (preload, canonical…) are ignored; duplicates are kept
// once. It never keeps more than MaxAssets, nor reads past MaxLinkBytes.
func ParseLinks(values [][]byte) LinkResult {
	var r LinkResult
	budget := MaxLinkBytes
	for _, v := range values {
		if len(v) > budget {
			v = v[:budget]
			r.Refused++
		}
		budget -= len(v)
		for len(v) > 0 {
			var lv []byte
			lv, v = nextLinkValue(v)
			a, ok, named := parseLinkValue(lv)
			switch {
			case !named:
			case !ok || len(r.Assets) >= MaxAssets:
				r.Refused++
			case !hasAsset(r.Assets, a):
				r.Assets = append(r.Assets, a)
			}
		}
		if budget <= 0 {
			break
		}
	}
	return r
}

func hasAsset(as []Asset, a Asset) bool {
	for _, b := range as {
		if b == a {
			return true
		}
	}
	return false
}

// nextLinkValue splits off the first link-value of a Link header: up to a
// comma outside <…> and quotes.
func nextLinkValue(v []byte) (first, rest []byte) {
	inURL, inQuote := false, false
	for i, c := range v {
		switch {
		case inQuote:
			inQuote = c != '"'
		case c == '<':
			inURL = true
		case c == '>':
			inURL = false
		case c == '"':
			inQuote = true
		case c == ',' && !inURL:
			return v[:i], v[i+1:]
		}
	}
	return v, nil
}

// parseLinkValue reads `<path>; rel=stylesheet` or `rel=script` (also
// Tailor's rel=fragment-script). named reports whether the value is a
// stylesheet or script at all; ok whether its target is a valid asset path.
func parseLinkValue(lv []byte) (a Asset, ok, named bool) {
	lv = bytes.TrimSpace(lv)
	if len(lv) == 0 || lv[0] != '<' {
		return a, false, false
	}
	end := bytes.IndexByte(lv, '>')
	if end < 0 {
		return a, false, false
	}
	target := string(lv[1:end])
	for _, p := range bytes.Split(lv[end+1:], []byte{';'}) {
		k, val, _ := bytes.Cut(bytes.TrimSpace(p), []byte{'='})
		if !bytes.EqualFold(bytes.TrimSpace(k), []byte("rel")) {
			continue
		}
		val = bytes.Trim(bytes.TrimSpace(val), `"`)
		for _, rel := range bytes.Fields(val) {
			switch strings.ToLower(string(rel)) {
			case "stylesheet":
				a.Kind = Stylesheet
			case "script", "fragment-script":
				a.Kind = Script
			}
		}
	}
	if a.Kind == 0 {
		return a, false, false
	}
	a.Path = target
	return a, ValidAssetPath(target), true
}

// AppendLink appends the Link value declaring a: `</path>; rel=stylesheet`.
func AppendLink(b []byte, a Asset) []byte {
	b = append(b, '<')
	b = append(b, a.Path...)
	b = append(b, ">; rel="...)
	return append(b, a.Kind.String()...)
}

// EncodeHeadValue percent-encodes s for a head header (X-Fragment-Title…),
// so that any UTF-8 text travels as ASCII.
func EncodeHeadValue(s string) string { return url.PathEscape(s) }

// DecodeHeadValue decodes a head header value: it must percent-decode to
// valid UTF-8 with no control characters and at most max bytes; ok is
// false otherwise.
func DecodeHeadValue(v []byte, max int) (string, bool) {
	if len(v) == 0 || len(v) > 3*max {
		return "", false
	}
	s, err := url.PathUnescape(string(v))
	if err != nil || len(s) > max || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	return strings.TrimSpace(s), strings.TrimSpace(s) != ""
}

// ValidRobots reports whether v may be a robots meta value: directives
// such as "noindex, follow" or "max-snippet:50".
func ValidRobots(v string) bool {
	if v == "" || len(v) > MaxRobots {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ',' || c == ' ' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// IsRedirect reports whether a fragment may answer status as a redirect:
// 301, 302, 303, 307 or 308.
func IsRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// AbsoluteHTTP reports whether loc is an absolute http or https URL with a
// host and no user info, holding nothing a browser would read differently
// (spaces, backslashes, control characters); host is its host, lowercased.
func AbsoluteHTTP(loc string) (host string, ok bool) {
	if len(loc) > 2048 {
		return "", false
	}
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(loc)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || u.Scheme != "http" && u.Scheme != "https" {
		return "", false
	}
	return strings.ToLower(u.Host), true
}

// SitePath reports whether loc is a path on the same site: it starts with
// one '/', and holds no backslash, control character or space, so no
// browser reads it as another host (//evil.example, /\evil.example).
func SitePath(loc string) bool {
	if len(loc) == 0 || loc[0] != '/' || len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
		return false
	}
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
