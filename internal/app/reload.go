package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tessera-dev/tessera/composer/config"
)

// reloadDebounce collapses the burst of events an editor's save makes.
const reloadDebounce = 150 * time.Millisecond

// watchConfig reloads the composer's config when the file, or any file in
// its directory (layouts), changes. A valid config is swapped in for the
// next request; an invalid one is logged with every reason and the one in
// force stays. The returned wait blocks until the watcher has stopped,
// after ctx is done.
func watchConfig(ctx context.Context, o ComposerOptions, apply func(*config.Site), log *slog.Logger) (wait func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(o.ConfigPath)
	if err := w.Add(dir); err != nil {
		_ = w.Close()
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer w.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		last := fileStamp(o.ConfigPath)
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) == 0 {
					continue
				}
				if timer == nil {
					timer = time.NewTimer(reloadDebounce)
				} else {
					timer.Reset(reloadDebounce)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watch error", "err", err)
			case <-fire:
				fire = nil
				stamp := fileStamp(o.ConfigPath)
				_, site, err := LoadSite(o)
				if err != nil {
					log.Error("config reload refused; the previous config stays in force", "file", o.ConfigPath, "err", err)
					continue
				}
				apply(site)
				log.Info("config reloaded", "file", o.ConfigPath, "pages", len(site.Pages), "fragments", len(site.Fragments), "changed", stamp != last)
				last = stamp
			}
		}
	}()
	return wg.Wait, nil
}

func fileStamp(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
