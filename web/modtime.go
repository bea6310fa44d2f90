package web

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// BuildTime is the modification time Static reports for every file: the
// time the running binary was written (its build), or, when that cannot be
// read, when the process started. embed.FS reports the zero time, which
// would send "Last-Modified: Mon, 01 Jan 0001" and answer every
// If-Modified-Since with 304, even after a deploy changed the file; a
// build's own time changes with each new binary.
var BuildTime = buildTime()

func buildTime() time.Time {
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return fi.ModTime().UTC().Truncate(time.Second)
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// modTimeFS gives every file of an embedded tree one modification time.
type modTimeFS struct {
	fsys fs.FS
	mod  time.Time
}

func (m modTimeFS) Open(name string) (fs.File, error) {
	f, err := m.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	return &modTimeFile{File: f, mod: m.mod}, nil
}

// modTimeFile keeps the embedded file's Seek and ReadAt, which fasthttp.FS
// uses, and its directory listing.
type modTimeFile struct {
	fs.File
	mod time.Time
}

func (f *modTimeFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return modTimeInfo{FileInfo: fi, mod: f.mod}, nil
}

var errNotSupported = errors.New("web: not supported by the embedded file")

func (f *modTimeFile) Seek(offset int64, whence int) (int64, error) {
	if s, ok := f.File.(io.Seeker); ok {
		return s.Seek(offset, whence)
	}
	return 0, errNotSupported
}

func (f *modTimeFile) ReadAt(p []byte, off int64) (int, error) {
	if r, ok := f.File.(io.ReaderAt); ok {
		return r.ReadAt(p, off)
	}
	return 0, errNotSupported
}

func (f *modTimeFile) ReadDir(n int) ([]fs.DirEntry, error) {
	d, ok := f.File.(fs.ReadDirFile)
	if !ok {
		return nil, errNotSupported
	}
	es, err := d.ReadDir(n)
	for i, e := range es {
		es[i] = modTimeEntry{DirEntry: e, mod: f.mod}
	}
	return es, err
}

type modTimeEntry struct {
	fs.DirEntry
	mod time.Time
}

func (e modTimeEntry) Info() (fs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return modTimeInfo{FileInfo: fi, mod: e.mod}, nil
}

type modTimeInfo struct {
	fs.FileInfo
	mod time.Time
}

func (i modTimeInfo) ModTime() time.Time { return i.mod }
