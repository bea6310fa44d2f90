package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var embedded embed.FS

// Static is the read-only file system of the site's assets, rooted at the
// static directory (paths like "css/site.css"). Every file is dated
// BuildTime, so that Last-Modified is real. It is safe for concurrent use.
var Static fs.FS = modTimeFS{fsys: mustSub(embedded, "static"), mod: BuildTime}

// mustSub panics only if dir is not a valid path, which the embed directive
// above rules out at compile time.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("web: " + err.Error())
	}
	return sub
}
