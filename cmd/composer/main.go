// Command composer serves Tessera's composed pages: it fans out to the
// fragment services named in its config, caches their output (in Redis when
// REDIS_URL or redis_url is set) and stitches each page.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/redisconn"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "composer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("composer", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address (default: the config's listen, :8080)")
	config := fs.String("config", app.Getenv(os.Getenv, "TESSERA_CONFIG", ""), "config file (default: the built-in site; env TESSERA_CONFIG)")
	level := fs.String("log-level", app.Getenv(os.Getenv, "TESSERA_LOG_LEVEL", "info"), "debug, info, warn or error (env TESSERA_LOG_LEVEL)")
	format := fs.String("log-format", app.Getenv(os.Getenv, "TESSERA_LOG_FORMAT", "json"), "json or text (env TESSERA_LOG_FORMAT)")
	access := fs.Bool("access-log", app.Getenv(os.Getenv, "TESSERA_ACCESS_LOG", "0") == "1", "one info line per page (env TESSERA_ACCESS_LOG=1)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown")
	defDrain, err := app.DrainPeriod(os.Getenv)
	if err != nil {
		return err
	}
	drain := fs.Duration("drain", defDrain, "on SIGTERM, keep serving this long with /readyz at 503 before stopping (env TESSERA_DRAIN)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := app.NewLogger(os.Stderr, *level, *format)
	if err != nil {
		return err
	}
	redisconn.InstallLogger(log)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := app.StartComposer(app.ComposerOptions{ConfigPath: *config, Addr: *addr, Logger: log, Watch: true, AccessLog: *access})
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		// A second signal ends the drain at once.
		stop()
		dctx, dstop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer dstop()
		log.Info("shutting down")
		return c.Drain(dctx, *drain)
	case <-waitChan(c.Wait):
	}
	return c.Close()
}

func waitChan(wait func() error) <-chan struct{} {
	ch := make(chan struct{})
	go func() { _ = wait(); close(ch) }()
	return ch
}
