package redistest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ping(t *testing.T, c *redis.Client, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestStartSetGet(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	if got, want := s.URL(), "redis://"+s.Addr()+"/0"; got != want {
		t.Fatalf("URL() = %q, want %q", got, want)
	}
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(), err)
	}
	c := redis.NewClient(opts)
	defer c.Close()

	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := s.Client(t).Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want \"v\", nil", got, err)
	}
}

func TestServersAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	ctx := context.Background()
	if err := a.Client(t).Set(ctx, "only-a", "1", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if err := b.Client(t).Get(ctx, "only-a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET on the other server: err = %v, want redis.Nil", err)
	}
}

// TestPortTakenByAnotherServer: a server whose port another
// redis-server holds does not pass for started on that other one's
// answers (as when a test run beside this one took the port).
func TestPortTakenByAnotherServer(t *testing.T) {
	t.Parallel()
	other := redistest.Start(t)
	err := redistest.StartOnPort(t, other.Port())
	if err == nil {
		t.Fatal("a server that could not bind its port counted as started")
	}
	if !strings.Contains(err.Error(), "exited") && !strings.Contains(err.Error(), "another redis-server") {
		t.Fatalf("err = %v, want the server's exit or another server named", err)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	s.Kill()
	if err := ping(t, c, 500*time.Millisecond); err == nil {
		t.Fatal("PING after Kill succeeded")
	}
	s.Kill() // a second Kill is a no-op

	s.Restart()
	if err := ping(t, c, 2*time.Second); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Restart: err = %v, want redis.Nil (no persistence)", err)
	}

	s.Restart() // restarting a running server replaces it
	if err := ping(t, c, 2*time.Second); err != nil {
		t.Fatalf("PING after second Restart: %v", err)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c := s.Client(t)
	if err := ping(t, c, 2*time.Second); err != nil {
		t.Fatalf("PING: %v", err)
	}

	s.Pause()
	start := time.Now()
	err := ping(t, c, 300*time.Millisecond)
	if err == nil {
		t.Fatal("PING on a paused server succeeded")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("PING on a paused server failed after %v with %v; want a timeout", d, err)
	}

	s.Resume()
	if err := ping(t, c, 2*time.Second); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
}

func TestKillWhilePaused(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.Pause()
	s.Kill()
	s.Restart()
	if err := ping(t, s.Client(t), 2*time.Second); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}
