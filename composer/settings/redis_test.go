package settings_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/settings"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

// newRedisStore opens its own client, as a separate composer would.
func newRedisStore(t *testing.T, srv *redistest.Server, o settings.Options) *settings.Store {
	t.Helper()
	rdb, err := redisconn.NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return settings.NewRedis(rdb, o)
}

func TestRedisChangeReachesOtherComposer(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisStore(t, srv, settings.Options{})
	b := newRedisStore(t, srv, settings.Options{})
	w := watch(t, b)
	w.waitFor(t, time.Second, "the initial tuning", func(*composer.Tuning) bool { return true })

	start := time.Now()
	if err := a.SetOverride(ctx, "weather", composer.Override{TTL: dur(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "the new ttl", ttlIs("weather", 30*time.Second))
	t.Logf("change seen after %s", time.Since(start))

	// Fields left nil keep their value.
	if err := a.SetOverride(ctx, "weather", composer.Override{SIE: dur(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "the merged override", func(tu *composer.Tuning) bool {
		o := tu.Overrides["weather"]
		return o.TTL != nil && *o.TTL == 30*time.Second && o.SIE != nil && *o.SIE == time.Hour && o.SWR == nil
	})

	gen, err := a.Purge(ctx, "shows")
	if err != nil || gen != 1 {
		t.Fatalf("Purge = %d, %v; want 1, nil", gen, err)
	}
	if gen, _ = a.Purge(ctx, "shows"); gen != 2 {
		t.Fatalf("second Purge = %d; want 2", gen)
	}
	w.waitFor(t, time.Second, "generation 2", func(tu *composer.Tuning) bool { return tu.Generations["shows"] == 2 })

	if err := a.ClearOverride(ctx, "weather"); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "the override cleared", func(tu *composer.Tuning) bool {
		_, ok := tu.Overrides["weather"]
		return !ok
	})
}

func TestRedisWriteAppliesLocallyOnReturn(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, srv, settings.Options{})
	w := watch(t, s)
	w.waitFor(t, time.Second, "the initial tuning", func(*composer.Tuning) bool { return true })
	if err := s.SetOverride(context.Background(), "headlines", composer.Override{TTL: dur(5 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if !ttlIs("headlines", 5*time.Second)(w.tuning()) {
		t.Fatalf("override not applied when SetOverride returned: %+v", w.tuning())
	}
}

func TestRedisSurvivesRestartOfComposer(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	first := newRedisStore(t, srv, settings.Options{})
	if err := first.SetOverride(ctx, "headlines", composer.Override{TTL: dur(90 * time.Second), SWR: dur(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Purge(ctx, "headlines"); err != nil {
		t.Fatal(err)
	}
	restarted := newRedisStore(t, srv, settings.Options{})
	got, err := restarted.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &composer.Tuning{
		Overrides:   map[string]composer.Override{"headlines": {TTL: dur(90 * time.Second), SWR: dur(0)}},
		Generations: map[string]uint64{"headlines": 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load after restart (-want +got):\n%s", diff)
	}
}

func TestRedisStoredFormat(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newRedisStore(t, srv, settings.Options{})
	rdb := srv.Client(t)
	sub := rdb.Subscribe(ctx, settings.EventsChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOverride(ctx, "weather", composer.Override{TTL: dur(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if v := rdb.HGet(ctx, settings.OverridesKey, "weather").Val(); v != `{"ttl":2000000000}` {
		t.Errorf("HGET %s weather = %q", settings.OverridesKey, v)
	}
	if _, err := s.Purge(ctx, "weather"); err != nil {
		t.Fatal(err)
	}
	if v := rdb.HGet(ctx, settings.GenerationsKey, "weather").Val(); v != "1" {
		t.Errorf("HGET %s weather = %q", settings.GenerationsKey, v)
	}
	for _, want := range []string{`{"op":"ttl","fragment":"weather"}`, `{"op":"purge","fragment":"weather","generation":1}`} {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload != want {
			t.Errorf("event = %s; want %s", m.Payload, want)
		}
	}

	// Values written by hand that do not parse or are out of range are
	// ignored, not fatal.
	rdb.HSet(ctx, settings.OverridesKey, "bad", "nonsense", "huge", `{"ttl":999999999999999999}`)
	rdb.HSet(ctx, settings.GenerationsKey, "bad", "-3")
	tu, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tu.Overrides) != 1 || len(tu.Generations) != 1 {
		t.Errorf("Load kept unreadable values: %+v", tu)
	}
}

func TestRedisConcurrentMerges(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisStore(t, srv, settings.Options{})
	b := newRedisStore(t, srv, settings.Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := a.SetOverride(ctx, "weather", composer.Override{TTL: dur(time.Duration(i) * time.Second)}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := b.SetOverride(ctx, "weather", composer.Override{SWR: dur(time.Duration(i) * time.Second)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	tu, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o := tu.Overrides["weather"]; o.TTL == nil || o.SWR == nil {
		t.Errorf("a concurrent write lost another's field: %+v", o)
	}
}

func TestRedisOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	logs := &countHandler{}
	a := newRedisStore(t, srv, settings.Options{})
	b := newRedisStore(t, srv, settings.Options{Logger: slog.New(logs), Resync: 200 * time.Millisecond})
	w := watch(t, b)
	if err := a.SetOverride(ctx, "weather", composer.Override{TTL: dur(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "the ttl before the outage", ttlIs("weather", 30*time.Second))

	srv.Kill()
	if err := a.SetOverride(ctx, "weather", composer.Override{TTL: dur(time.Second)}); err == nil {
		t.Error("SetOverride with Redis down succeeded")
	}
	// Stay down across several resyncs and reconnect attempts.
	time.Sleep(1500 * time.Millisecond)
	if !ttlIs("weather", 30*time.Second)(w.tuning()) {
		t.Errorf("tuning changed while Redis was down: %+v", w.tuning())
	}
	if n := logs.warns.Load(); n != 1 {
		t.Errorf("%d warnings during one outage; want 1", n)
	}

	srv.Restart() // empty: the server keeps nothing on disk
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = a.SetOverride(ctx, "weather", composer.Override{TTL: dur(42 * time.Second)}); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("SetOverride after restart: %v", err)
	}
	w.waitFor(t, 2*time.Second, "the ttl set after the restart", ttlIs("weather", 42*time.Second))

	// And announcements flow again, not just resyncs.
	if err := a.SetOverride(ctx, "headlines", composer.Override{TTL: dur(7 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "a second change after the restart", ttlIs("headlines", 7*time.Second))
}

func TestRedisAnnouncementsWithoutResync(t *testing.T) {
	// With a resync far away, only the announcement can deliver the change.
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisStore(t, srv, settings.Options{})
	b := newRedisStore(t, srv, settings.Options{Resync: time.Hour})
	w := watch(t, b)
	w.waitFor(t, time.Second, "the initial tuning", func(*composer.Tuning) bool { return true })
	// Let the subscription be confirmed before writing.
	time.Sleep(100 * time.Millisecond)
	if _, err := a.Purge(ctx, "shows"); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, time.Second, "the purge", func(tu *composer.Tuning) bool { return tu.Generations["shows"] == 1 })
}
