// Command shows serves the new-shows fragment.
//
//	TESSERA_SHOWS_SECRET=... TESSERA_SHOWS_EDITOR_TOKEN=... shows [-addr :8083] [-log-level info] [-log-format text]
//
// TESSERA_SHOWS_SECRET is the HMAC key the composer signs requests with and
// TESSERA_SHOWS_EDITOR_TOKEN the bearer token for POST /shows; the command
// refuses to start without either. TESSERA_SHOWS_STORE is the file that
// keeps added shows (default ./tessera-data/shows-added.jsonl). With
// REDIS_URL set, a new show is announced to every composer on that Redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/fragments/shows"
)

// Environment variables read by the command.
const (
	EnvSecret      = "TESSERA_SHOWS_SECRET"
	EnvEditorToken = "TESSERA_SHOWS_EDITOR_TOKEN"
	EnvStore       = "TESSERA_SHOWS_STORE"
)

// DefaultStore is where added shows are kept unless TESSERA_SHOWS_STORE
// says otherwise.
const DefaultStore = "./tessera-data/shows-added.jsonl"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "shows:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("shows", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8083", "listen address")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	cfg := shows.DefaultConfig()
	cfg.Secret = []byte(getenv(EnvSecret))
	cfg.EditorToken = getenv(EnvEditorToken)
	cfg.StorePath = DefaultStore
	if p := getenv(EnvStore); p != "" {
		cfg.StorePath = p
	}
	var missing []error
	if len(cfg.Secret) == 0 {
		missing = append(missing, fmt.Errorf("%s is not set: it is the HMAC key the composer signs requests with (use the same value for both)", EnvSecret))
	}
	if cfg.EditorToken == "" {
		missing = append(missing, fmt.Errorf("%s is not set: it is the bearer token editors present to POST /shows", EnvEditorToken))
	}
	if err := errors.Join(missing...); err != nil {
		return err
	}
	if url := getenv("REDIS_URL"); url != "" {
		// Announce a new show to every composer on this Redis: purging the
		// shows fragment makes the next page fetch it again.
		rdb, err := rediscache.NewClient(url)
		if err != nil {
			return err
		}
		defer rdb.Close()
		store := settings.NewRedis(rdb, settings.Options{Logger: log})
		cfg.OnChange = func(ctx context.Context) {
			if _, err := store.Purge(ctx, shows.Name); err != nil {
				log.Warn("announcing the new show failed; pages show it after the TTL", slog.String("err", err.Error()))
			}
		}
	}
	srv, err := shows.New(cfg, log)
	if err != nil {
		return err
	}
	log.Info("added shows are kept in a file", slog.String("path", cfg.StorePath))
	return srv.ListenAndServe(ctx, *addr)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid -log-level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid -log-format %q: want text or json", format)
}
