package rediscache_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/internal/redisconn"
	"github.com/tessera-dev/tessera/internal/redistest"
)

// slowProxy forwards to addr and holds every answer back for delay, as a
// saturated host does to each round trip.
func slowProxy(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				_ = c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// On a host where every round trip takes 100ms, a fixed 50ms bound would
// lose every lookup; the adaptive bound follows the round trip.
func TestSlowRoundTripsStillHit(t *testing.T) {
	rs := redistest.Start(t)
	proxy := slowProxy(t, rs.Addr(), 100*time.Millisecond)
	rdb, err := redisconn.NewClient("redis://" + proxy + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := rediscache.New(rdb, rediscache.Options{})
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Warm(wctx, 4); err != nil {
		t.Fatalf("Warm through a slow link: %v", err)
	}
	if err := rs.Client(t).Set(context.Background(), "k", string(entryBytes(t)), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	hits := 0
	for range 5 {
		got, err := c.GetMulti(context.Background(), []string{"k"})
		if err == nil && got[0] != nil {
			hits++
		}
	}
	if hits < 4 {
		t.Fatalf("%d of 5 lookups hit over 100ms round trips, want the bound to follow them", hits)
	}
}

// Warm leaves n connections open in the pool before the first page.
func TestWarmOpensConnections(t *testing.T) {
	rs := redistest.Start(t)
	rdb, err := redisconn.NewClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := rediscache.New(rdb, rediscache.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Warm(ctx, 16); err != nil {
		t.Fatal(err)
	}
	if got := rdb.(*redis.Client).PoolStats().TotalConns; got < 16 {
		t.Fatalf("pool holds %d connections after Warm(16)", got)
	}
}

func entryBytes(t *testing.T) []byte {
	t.Helper()
	return rediscache.AppendEntry(nil, entry("v"))
}
