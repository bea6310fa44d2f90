// Command topbar serves the top-bar fragment.
//
//	topbar [-addr :8084] [-log-level info] [-log-format text]
//
// It needs no secrets: the top bar serves only slot markers.
package main

import (
	"context"
	"io"

	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/fragments/topbar"
)

func main() { command().Main() }

func command() fragment.Command {
	return fragment.Command{Name: topbar.Name, Addr: ":8084", New: func(env fragment.Env) (*fragment.Server, error) {
		return topbar.New(topbar.DefaultConfig(), env.Log)
	}}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return command().Run(ctx, args, getenv, stderr)
}
