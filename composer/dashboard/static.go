package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"

	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/web"
)

//go:embed static
var embedded embed.FS

// asset is one file served under StaticPath.
type asset struct {
	body  []byte
	ctype string
	// url carries a digest of the body, so a new build is fetched anew
	// while an unchanged file may be cached for long.
	url string
}

// assets are the dashboard's own files and the site's palette, logo and
// icon, so the dashboard looks like the site without depending on where
// the site serves its files.
var assets = loadAssets([]assetFile{
	{"dashboard.css", embedded, "static/dashboard.css"},
	{"dashboard.js", embedded, "static/dashboard.js"},
	{"site.css", web.Static, "css/site.css"},
	{"logo.svg", web.Static, "img/logo.svg"},
	{"favicon.svg", web.Static, "favicon.svg"},
})

// assetFile is where an asset's body is embedded.
type assetFile struct {
	name string
	fsys fs.FS
	path string
}

func loadAssets(files []assetFile) map[string]asset {
	m := make(map[string]asset, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(f.fsys, f.path)
		if err != nil {
			panic("dashboard: embedded asset missing: " + err.Error())
		}
		sum := sha256.Sum256(b)
		m[f.name] = asset{body: b, ctype: contentType(f.name), url: StaticPath + f.name + "?v=" + hex.EncodeToString(sum[:6])}
	}
	return m
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// assetURL is the versioned URL of an asset.
func assetURL(name string) string { return assets[name].url }

// serveStatic answers the dashboard's assets, which need no sign-in: the
// sign-in page uses them, and they hold nothing private.
func serveStatic(rc *fasthttp.RequestCtx) {
	name, _ := rc.UserValue("file").(string)
	a, ok := assets[name]
	if !ok {
		rc.SetStatusCode(fasthttp.StatusNotFound)
		rc.SetContentType("text/plain; charset=utf-8")
		rc.SetBodyString("not found\n")
		return
	}
	h := &rc.Response.Header
	h.SetContentType(a.ctype)
	h.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	if len(rc.QueryArgs().Peek("v")) > 0 {
		h.Set(fasthttp.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		h.Set(fasthttp.HeaderCacheControl, "no-cache")
	}
	rc.SetBody(a.body)
}
