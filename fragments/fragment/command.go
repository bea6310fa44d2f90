package fragment

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
)

// Command is a fragment service as a process: it takes -addr, -log-level
// and -log-format (plus whatever flags the service adds), builds the
// service and serves it until it is told to stop. A service's main is then
// a few lines:
//
//	func main() {
//		fragment.Command{Name: "weather", Addr: ":8082", New: func(c fragment.Env) (*fragment.Server, error) {
//			return weather.New(weather.Config{Token: c.Getenv("TESSERA_WEATHER_TOKEN")}, c.Log)
//		}}.Main()
//	}
type Command struct {
	// Name is the fragment's name, used for the flag set and messages.
	Name string
	// Addr is the default listen address, e.g. ":8082".
	Addr string
	// Flags, when set, adds the service's own flags before parsing.
	Flags func(fs *flag.FlagSet)
	// New builds the service once flags are parsed.
	New func(env Env) (*Server, error)
}

// Env is what a Command hands to New: the logger and the environment.
type Env struct {
	Log    *slog.Logger
	Getenv func(string) string
	stops  *[]func()
}

// OnStop registers f to run after the service has stopped serving, e.g. to
// close a client New opened.
func (e Env) OnStop(f func()) { *e.stops = append(*e.stops, f) }

// Require returns the environment variable key, or an error that says
// what it is for when it is empty.
func (e Env) Require(key, what string) (string, error) {
	if v := e.Getenv(key); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is not set: it is %s", key, what)
}

// Run parses args, builds the service and serves it until ctx is done.
func (c Command) Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", c.Addr, "listen address")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "text", "log format: text or json")
	if c.Flags != nil {
		c.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	srv, err := c.New(Env{Log: log, Getenv: getenv, stops: &stops})
	if err != nil {
		return err
	}
	return srv.ListenAndServe(ctx, *addr)
}

// Main runs the command for a main function: with the process's arguments
// and environment, stopping gracefully on SIGINT or SIGTERM, and exiting
// with status 1 (and the reason on stderr) when it fails.
func (c Command) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
		os.Exit(1)
	}
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
