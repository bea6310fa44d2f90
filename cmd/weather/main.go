// Command weather serves the weather fragment.
//
//	TESSERA_WEATHER_TOKEN=... weather [-addr :8082] [-default-city london] [-log-level info] [-log-format text]
//
// TESSERA_WEATHER_TOKEN is the bearer token the composer presents; the
// command refuses to start without it.
package main

import (
	"context"
	"flag"
	"io"

	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/fragments/weather"
)

// EnvToken names the variable holding the bearer token.
const EnvToken = "TESSERA_WEATHER_TOKEN"

func main() { command().Main() }

func command() fragment.Command {
	cfg := weather.DefaultConfig()
	return fragment.Command{
		Name: weather.Name, Addr: ":8082",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.DefaultCity, "default-city", cfg.DefaultCity, "city shown when a request names no known city")
		},
		New: func(env fragment.Env) (*fragment.Server, error) {
			var err error
			if cfg.Token, err = env.Require(EnvToken, "the bearer token the composer must present (use the same value for both)"); err != nil {
				return nil, err
			}
			return weather.New(cfg, env.Log)
		},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return command().Run(ctx, args, getenv, stderr)
}
