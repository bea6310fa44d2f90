// Command weather serves the weather fragment.
//
//	TESSERA_WEATHER_TOKEN=... weather [-addr :8082] [-log-level info] [-log-format text]
//
// TESSERA_WEATHER_TOKEN is the bearer token the composer presents; the
// command refuses to start without it.
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

	"github.com/tessera-dev/tessera/fragments/weather"
)

// EnvToken names the variable holding the bearer token.
const EnvToken = "TESSERA_WEATHER_TOKEN"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "weather:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("weather", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8082", "listen address")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "text", "log format: text or json")
	city := fs.String("default-city", weather.DefaultConfig().DefaultCity, "city shown when a request names no known city")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	cfg := weather.DefaultConfig()
	cfg.Token = getenv(EnvToken)
	cfg.DefaultCity = *city
	if cfg.Token == "" {
		return fmt.Errorf("%s is not set: it is the bearer token the composer must present (use the same value for both)", EnvToken)
	}
	srv, err := weather.New(cfg, log)
	if err != nil {
		return err
	}
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
