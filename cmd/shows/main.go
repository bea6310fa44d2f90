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
	"io"
	"log/slog"

	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/fragments/shows"
	"github.com/tessera-dev/tessera/internal/redisconn"
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

func main() { command().Main() }

func command() fragment.Command {
	return fragment.Command{Name: shows.Name, Addr: ":8083", New: newService}
}

func newService(env fragment.Env) (*fragment.Server, error) {
	cfg := shows.DefaultConfig()
	secret, err1 := env.Require(EnvSecret, "the HMAC key the composer signs requests with (use the same value for both)")
	editor, err2 := env.Require(EnvEditorToken, "the bearer token editors present to POST /shows")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	cfg.Secret, cfg.EditorToken, cfg.StorePath = []byte(secret), editor, DefaultStore
	if p := env.Getenv(EnvStore); p != "" {
		cfg.StorePath = p
	}
	if url := env.Getenv("REDIS_URL"); url != "" {
		// Announce a new show to every composer on this Redis: purging the
		// shows fragment makes the next page fetch it again.
		redisconn.InstallLogger(env.Log)
		rdb, err := redisconn.NewClient(url)
		if err != nil {
			return nil, err
		}
		env.OnStop(func() { _ = rdb.Close() })
		store := settings.NewRedis(rdb, settings.Options{Logger: env.Log})
		cfg.OnChange = func(ctx context.Context) {
			if _, err := store.Purge(ctx, shows.Name); err != nil {
				env.Log.Warn("announcing the new show failed; pages show it after the TTL", slog.String("err", err.Error()))
			}
		}
	}
	env.Log.Info("added shows are kept in a file", slog.String("path", cfg.StorePath))
	return shows.New(cfg, env.Log)
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return command().Run(ctx, args, getenv, stderr)
}
