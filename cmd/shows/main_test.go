package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunNeedsSecrets(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), EnvSecret) || !strings.Contains(err.Error(), EnvEditorToken) {
		t.Fatalf("run without secrets: %v", err)
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := map[string]string{
		EnvSecret:      "s",
		EnvEditorToken: "e",
		EnvStore:       filepath.Join(t.TempDir(), "added.jsonl"),
	}
	if err := run(ctx, []string{"-addr", "127.0.0.1:0", "-log-level", "error"}, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
}
