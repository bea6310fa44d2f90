// Command tessera runs the whole Tessera site in one process — the composer
// on :8080 and the headlines, weather, shows and top-bar fragments on
// :8081-:8084 —
// and is the operator's command line:
//
//	tessera                      run the site (in-process cache; REDIS_URL for Redis)
//	tessera ttl list|set|clear   read and tune fragment TTLs on a running composer
//	tessera purge NAME           drop every cached copy of a fragment
//	tessera check FILE           validate a composer config
//	tessera config               print the built-in config
//	tessera new fragment NAME    scaffold a new fragment service
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/cli"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/scaffold"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, cli.ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tessera:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != "serve" {
		return command(ctx, args, stdout, stderr, getenv)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			// The commands first, then the flags of running the site.
			if err := cli.Run(ctx, []string{"help"}, stdout, stderr, getenv); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "\nFlags of running the site (tessera [serve] [flags]):")
			break
		}
	}
	return serve(ctx, args, stdout, stderr, getenv)
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("tessera", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fs.SetOutput(stdout) // asked for: the usage is the answer
	}
	addr := fs.String("addr", "", "composer listen address (default :8080)")
	ha := fs.String("headlines-addr", app.DefaultHeadlinesAddr, "headlines fragment listen address")
	wa := fs.String("weather-addr", app.DefaultWeatherAddr, "weather fragment listen address")
	sa := fs.String("shows-addr", app.DefaultShowsAddr, "shows fragment listen address")
	ta := fs.String("topbar-addr", app.DefaultTopbarAddr, "top-bar fragment listen address")
	config := fs.String("config", app.Getenv(getenv, "TESSERA_CONFIG", ""), "composer config (default: the built-in site; env TESSERA_CONFIG)")
	level := fs.String("log-level", app.Getenv(getenv, "TESSERA_LOG_LEVEL", "info"), "debug, info, warn or error (env TESSERA_LOG_LEVEL)")
	format := fs.String("log-format", app.Getenv(getenv, "TESSERA_LOG_FORMAT", "text"), "text or json (env TESSERA_LOG_FORMAT)")
	access := fs.Bool("access-log", app.Getenv(getenv, "TESSERA_ACCESS_LOG", "0") == "1", "one info line per page (env TESSERA_ACCESS_LOG=1)")
	// One process is rarely behind a balancer: no drain unless asked.
	defDrain := time.Duration(0)
	if getenv(app.EnvDrain) != "" {
		d, err := app.DrainPeriod(getenv)
		if err != nil {
			return err
		}
		defDrain = d
	}
	drain := fs.Duration("drain", defDrain, "on SIGTERM, keep serving this long with /readyz at 503 before stopping (env TESSERA_DRAIN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := app.NewLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	redisconn.InstallLogger(log)
	secrets := app.DevSecrets(getenv)
	if len(secrets.Generated) > 0 {
		log.Info("made up secrets for this run; set them to fix them", "vars", strings.Join(secrets.Generated, ","))
	}
	site, err := app.StartSite(app.SiteOptions{
		Composer: app.ComposerOptions{ConfigPath: *config, Addr: *addr, Env: secrets.Env(getenv), Logger: log, Watch: *config != "", AccessLog: *access},
		Fragments: app.FragmentsOptions{
			HeadlinesAddr: *ha, WeatherAddr: *wa, ShowsAddr: *sa, TopbarAddr: *ta,
			Secrets: secrets, ShowsStore: app.Getenv(getenv, app.EnvShowsStore, app.DefaultShowsStore),
			Logger: log,
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Tessera is up: http://%s/\n", site.Composer.DisplayAddr())
	<-ctx.Done()
	log.Info("shutting down")
	return site.Drain(context.Background(), *drain)
}

func command(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if cli.Handles(args[0]) {
		return cli.Run(ctx, args, stdout, stderr, getenv)
	}
	if args[0] == "new" {
		err := scaffold.Run(ctx, args[1:], stdout, stderr)
		if errors.Is(err, scaffold.ErrUsage) {
			return fmt.Errorf("%w: %w", cli.ErrUsage, err)
		}
		return err
	}
	return fmt.Errorf("unknown command %q (try: tessera ttl list, tessera purge NAME, tessera check FILE, tessera config, tessera new fragment NAME)", args[0])
}
