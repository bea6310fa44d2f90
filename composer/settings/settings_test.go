package settings_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/settings"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
	)
}

func dur(d time.Duration) *time.Duration { return &d }

// watcher runs Store.Watch for the length of a test and records what it
// was given.
type watcher struct {
	mu    sync.Mutex
	last  *composer.Tuning
	calls int
}

func watch(t *testing.T, s *settings.Store) *watcher {
	t.Helper()
	w := &watcher{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, func(tu *composer.Tuning) {
			w.mu.Lock()
			w.last, w.calls = tu, w.calls+1
			w.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})
	return w
}

func (w *watcher) tuning() *composer.Tuning {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// waitFor polls until ok holds for the latest tuning, or fails after within.
func (w *watcher) waitFor(t *testing.T, within time.Duration, what string, ok func(*composer.Tuning) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if tu := w.tuning(); tu != nil && ok(tu) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher did not see %s within %s; last tuning: %+v", what, within, w.tuning())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ttlIs(name string, d time.Duration) func(*composer.Tuning) bool {
	return func(tu *composer.Tuning) bool {
		o, ok := tu.Overrides[name]
		return ok && o.TTL != nil && *o.TTL == d
	}
}

// countHandler counts log records at warn level and above.
type countHandler struct{ warns atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warns.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	s := settings.NewMemory(settings.Options{})
	w := watch(t, s)
	w.waitFor(t, time.Second, "the initial tuning", func(*composer.Tuning) bool { return true })

	if err := s.SetOverride(ctx, "weather", composer.Override{TTL: dur(30 * time.Second), SWR: dur(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// A write applies to the store's watchers before it returns.
	if !ttlIs("weather", 30*time.Second)(w.tuning()) {
		t.Fatalf("override not applied on return: %+v", w.tuning())
	}
	if err := s.SetOverride(ctx, "weather", composer.Override{TTL: dur(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	gen, err := s.Purge(ctx, "shows")
	if err != nil || gen != 1 {
		t.Fatalf("Purge = %d, %v; want 1, nil", gen, err)
	}
	if gen, _ = s.Purge(ctx, "shows"); gen != 2 {
		t.Fatalf("second Purge = %d; want 2", gen)
	}
	want := &composer.Tuning{
		Overrides:   map[string]composer.Override{"weather": {TTL: dur(10 * time.Second), SWR: dur(time.Minute)}},
		Generations: map[string]uint64{"shows": 2},
	}
	if diff := cmp.Diff(want, w.tuning()); diff != "" {
		t.Errorf("watched tuning (-want +got):\n%s", diff)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	// What Load returns is a copy.
	got.Overrides["weather"] = composer.Override{}
	if again, _ := s.Load(ctx); again.Overrides["weather"].TTL == nil {
		t.Error("changing a loaded tuning changed the store")
	}

	if err := s.ClearOverride(ctx, "weather"); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.tuning().Overrides["weather"]; ok {
		t.Errorf("override still there after ClearOverride: %+v", w.tuning())
	}
	if err := s.ClearOverride(ctx, "weather"); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	s := settings.NewMemory(settings.Options{})
	tests := []struct {
		name string
		frag string
		o    composer.Override
	}{
		{"negative ttl", "weather", composer.Override{TTL: dur(-time.Second)}},
		{"ttl over 7 days", "weather", composer.Override{TTL: dur(settings.MaxDuration + time.Second)}},
		{"swr over 7 days", "weather", composer.Override{SWR: dur(8 * 24 * time.Hour)}},
		{"negative sie", "weather", composer.Override{SIE: dur(-1)}},
		{"nothing set", "weather", composer.Override{}},
		{"bad name", "Weather!", composer.Override{TTL: dur(time.Second)}},
		{"empty name", "", composer.Override{TTL: dur(time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetOverride(ctx, tt.frag, tt.o)
			if !errors.Is(err, settings.ErrInvalid) {
				t.Fatalf("SetOverride = %v; want ErrInvalid", err)
			}
		})
	}
	if _, err := s.Purge(ctx, "../x"); !errors.Is(err, settings.ErrInvalid) {
		t.Errorf("Purge of a bad name = %v; want ErrInvalid", err)
	}
	for _, d := range []time.Duration{0, time.Millisecond, settings.MaxDuration} {
		if err := s.SetOverride(ctx, "weather", composer.Override{TTL: &d, SWR: &d, SIE: &d}); err != nil {
			t.Errorf("SetOverride(%s) = %v; want nil", d, err)
		}
	}
	tu, _ := s.Load(ctx)
	if o := tu.Overrides["weather"]; o.TTL == nil || *o.TTL != settings.MaxDuration {
		t.Errorf("after refused writes and valid ones, override = %+v", o)
	}
}
