package fragment_test

import (
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/fragments/fragment"
)

func TestCommand(t *testing.T) {
	var greeting string
	stopped := false
	cmd := fragment.Command{
		Name: "hello", Addr: ":0",
		Flags: func(fs *flag.FlagSet) { fs.StringVar(&greeting, "greeting", "hi", "what to say") },
		New: func(env fragment.Env) (*fragment.Server, error) {
			if _, err := env.Require("HELLO_TOKEN", "the token"); err != nil {
				return nil, err
			}
			env.OnStop(func() { stopped = true })
			return fragment.New(fragment.Config{Name: "hello", Version: "1.0.0"}, env.Log,
				func(*fasthttp.RequestCtx) (templ.Component, error) { return templ.Raw("<p>" + greeting + "</p>"), nil })
		},
	}
	env := func(k string) string { return map[string]string{"HELLO_TOKEN": "t"}[k] }

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cmd.Run(ctx, []string{"-addr", "127.0.0.1:0", "-greeting", "hey"}, env, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	if greeting != "hey" || !stopped {
		t.Errorf("flag %q, stop hook ran %v", greeting, stopped)
	}
	err := cmd.Run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "HELLO_TOKEN is not set: it is the token") {
		t.Errorf("missing env: %v", err)
	}
	for _, args := range [][]string{{"-log-level", "loud"}, {"-log-format", "xml"}, {"-nope"}} {
		if err := cmd.Run(context.Background(), args, env, io.Discard); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
}
