package fragment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// AssetCacheControl is the Cache-Control of an asset: its name holds a
// hash of its bytes, so a copy never goes stale.
const AssetCacheControl = protocol.AssetCacheControl

// Asset is a stylesheet or script the fragment serves itself and declares
// in a Link header of every snippet answer. Make one with [CSS] or [JS].
type Asset struct {
	name string
	kind protocol.AssetKind
	body []byte
}

// CSS returns a stylesheet asset: name is a plain file name ending in
// .css, such as "headlines.css", and body its bytes, usually an embedded
// file. The server serves it at /assets/<stem>.<8 hex>.css, the hex being
// the start of the SHA-256 of body.
func CSS(name string, body []byte) Asset {
	return Asset{name: name, kind: protocol.Stylesheet, body: body}
}

// JS returns a script asset, like [CSS] for a file ending in .js. The page
// loads it as a module script.
func JS(name string, body []byte) Asset {
	return Asset{name: name, kind: protocol.Script, body: body}
}

// assetNameRE is a plain file name: letters, digits, '-' and '_', with
// inner dots, ending in .css or .js.
var assetNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.(css|js)$`)

// servedAsset is an asset as the server answers it.
type servedAsset struct {
	name        string
	path        string
	contentType string
	etag        string
	body        []byte
}

// prepareAssets checks the declared assets and works out where each is
// served and the Link values every snippet answer carries, in declaration
// order.
func prepareAssets(fragment string, assets []Asset) ([]servedAsset, [][]byte, error) {
	if len(assets) > protocol.MaxAssets {
		return nil, nil, fmt.Errorf("fragment: %s: %d assets declared; the composer takes at most %d per answer", fragment, len(assets), protocol.MaxAssets)
	}
	served := make([]servedAsset, 0, len(assets))
	links := make([][]byte, 0, len(assets))
	seen := make(map[string]bool, len(assets))
	for i, a := range assets {
		var ext, ctype string
		switch a.kind {
		case protocol.Stylesheet:
			ext, ctype = ".css", "text/css; charset=utf-8"
		case protocol.Script:
			ext, ctype = ".js", "text/javascript; charset=utf-8"
		default:
			return nil, nil, fmt.Errorf("fragment: %s: asset %d was not made with fragment.CSS or fragment.JS", fragment, i+1)
		}
		if !assetNameRE.MatchString(a.name) {
			return nil, nil, fmt.Errorf("fragment: %s: asset name %q is not a plain file name: use letters, digits, '-', '_' and inner dots, ending in %s", fragment, a.name, ext)
		}
		if !strings.HasSuffix(a.name, ext) {
			return nil, nil, fmt.Errorf("fragment: %s: %s %q must end in %s", fragment, a.kind, a.name, ext)
		}
		if seen[a.name] {
			return nil, nil, fmt.Errorf("fragment: %s: asset %q is declared twice: declare each file once", fragment, a.name)
		}
		seen[a.name] = true
		if len(a.body) == 0 {
			return nil, nil, fmt.Errorf("fragment: %s: asset %q is empty: check its go:embed line", fragment, a.name)
		}
		sum := sha256.Sum256(a.body)
		hexSum := hex.EncodeToString(sum[:])
		path := "/assets/" + strings.TrimSuffix(a.name, ext) + "." + hexSum[:8] + ext
		if !protocol.ValidAssetPath(path) {
			return nil, nil, fmt.Errorf("fragment: %s: asset %q would be served at %q, which is not %s: use a shorter name", fragment, a.name, path, protocol.AssetRule)
		}
		served = append(served, servedAsset{
			name:        a.name,
			path:        path,
			contentType: ctype,
			etag:        `"` + hexSum + `"`,
			body:        bytes.Clone(a.body),
		})
		links = append(links, protocol.AppendLink(nil, protocol.Asset{Kind: a.kind, Path: path}))
	}
	return served, links, nil
}

// AssetPath returns the path the asset declared under name is served at,
// such as "/assets/headlines.3f2a9c1b.css", or "" when no asset has that
// name.
func (s *Server) AssetPath(name string) string {
	for _, a := range s.assets {
		if a.name == name {
			return a.path
		}
	}
	return ""
}

// serve answers GET and HEAD for one asset, with no credentials: an
// asset is public, and the composer fetches it without any.
func (a *servedAsset) serve(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderCacheControl, AssetCacheControl)
	h.Set(fasthttp.HeaderETag, a.etag)
	if inm := ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch); len(inm) > 0 && etagMatches(inm, a.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	ctx.SetContentType(a.contentType)
	ctx.SetBody(a.body)
	return nil
}

// etagMatches reports whether an If-None-Match value names etag (or is *).
func etagMatches(inm []byte, etag string) bool {
	for _, v := range bytes.Split(inm, []byte{','}) {
		v = bytes.TrimPrefix(bytes.TrimSpace(v), []byte("W/"))
		if string(v) == etag || string(v) == "*" {
			return true
		}
	}
	return false
}
