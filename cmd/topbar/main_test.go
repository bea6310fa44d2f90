package main

import (
	"context"
	"io"
	"testing"
)

func TestRunStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, []string{"-addr", "127.0.0.1:0", "-log-format", "json"}, noEnv, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-log-level", "loud"}, {"-log-format", "xml"}, {"-addr"}} {
		if err := run(context.Background(), args, noEnv, io.Discard); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
}
func noEnv(string) string { return "" }
