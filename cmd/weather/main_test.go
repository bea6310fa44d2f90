package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRunNeedsToken(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), EnvToken) {
		t.Fatalf("run without a token: %v", err)
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := map[string]string{EnvToken: "t"}
	if err := run(ctx, []string{"-addr", "127.0.0.1:0", "-log-level", "error"}, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "t" }
	for _, args := range [][]string{{"-log-level", "loud"}, {"-log-format", "xml"}, {"-default-city", "atlantis"}, {"-nope"}} {
		if err := run(context.Background(), args, env, io.Discard); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
}
