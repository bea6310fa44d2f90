package tiered_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/memcache"
	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/composer/tiered"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

func TestNearCacheInFrontOfRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisconn.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	far := rediscache.New(rdb, rediscache.Options{Timeout: 200 * time.Millisecond})
	near, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()
	c := tiered.New(near, far, 300*time.Millisecond)
	ctx := context.Background()

	// An entry another composer wrote is read from Redis once, then from memory.
	other := &composer.Entry{Body: []byte("v1"), Stored: time.Now(), MaxAge: time.Hour}
	if err := far.Set(ctx, "k", other, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMulti(ctx, []string{"k", "missing"})
	if err != nil || got[0] == nil || string(got[0].Body) != "v1" || got[1] != nil {
		t.Fatalf("first read: %v %v", got, err)
	}
	rs.Pause() // Redis black-holed: memory still answers
	got, err = c.GetMulti(ctx, []string{"k"})
	if err != nil || got[0] == nil {
		t.Fatalf("near read with Redis paused: %v %v", got, err)
	}
	got, err = c.GetMulti(ctx, []string{"k", "missing"})
	if err == nil || got[0] == nil {
		t.Fatalf("mixed read with Redis paused: want the near hit and an error, got %v %v", got, err)
	}
	rs.Resume()

	// After the near TTL, a newer copy in Redis is seen.
	if err := far.Set(ctx, "k", &composer.Entry{Body: []byte("v2"), Stored: time.Now(), MaxAge: time.Hour}, time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	got, _ = c.GetMulti(ctx, []string{"k"})
	if got[0] == nil || string(got[0].Body) != "v2" {
		t.Fatalf("after the near TTL: %v", got)
	}
	// Writes go to both levels.
	if err := c.Set(ctx, "w", &composer.Entry{Body: []byte("w"), Stored: time.Now()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if near.Get("w") == nil {
		t.Error("write not kept in memory")
	}
	if g, _ := far.GetMulti(ctx, []string{"w"}); g[0] == nil {
		t.Error("write not in Redis")
	}
}

// partialFar answers for some keys and fails for the rest, as a cluster
// with one node down does.
type partialFar struct{ composer.Cache }

func (partialFar) GetMulti(_ context.Context, keys []string) ([]*composer.Entry, error) {
	out := make([]*composer.Entry, len(keys))
	out[0] = &composer.Entry{Body: []byte("live"), Stored: time.Now(), MaxAge: time.Hour}
	return out, errors.New("1 of 2 keys failed")
}

func TestSharedCacheAnswersForSomeKeys(t *testing.T) {
	near, err := memcache.New(0)
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()
	c := tiered.New(near, partialFar{}, time.Minute)
	got, err := c.GetMulti(context.Background(), []string{"on-live-node", "on-dead-node"})
	if err == nil {
		t.Error("GetMulti lost the shared cache's error")
	}
	if len(got) != 2 || got[0] == nil || string(got[0].Body) != "live" || got[1] != nil {
		t.Fatalf("GetMulti = %v, want the live node's entry and a miss", got)
	}
}
