// Command headlines serves the headlines fragment.
//
//	headlines [-addr :8081] [-log-level info] [-log-format text]
//
// It needs no secrets: the headlines fragment accepts every caller.
package main

import (
	"context"
	"io"

	"github.com/tessera-dev/tessera/fragments/fragment"
	"github.com/tessera-dev/tessera/fragments/headlines"
)

func main() { command().Main() }

func command() fragment.Command {
	return fragment.Command{Name: headlines.Name, Addr: ":8081", New: func(env fragment.Env) (*fragment.Server, error) {
		return headlines.New(headlines.DefaultConfig(), env.Log)
	}}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return command().Run(ctx, args, getenv, stderr)
}
