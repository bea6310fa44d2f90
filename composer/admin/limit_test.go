package admin

import (
	"fmt"
	"net"
	"testing"
	"time"
)

func TestSignInLimiterWindowAndBound(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newSignInLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 2 {
		if w := l.fail("a"); w != 0 {
			t.Fatalf("failure %d: wait %s; want none yet", i+1, w)
		}
	}
	if w := l.fail("a"); w != time.Minute {
		t.Fatalf("third failure: wait %s; want 1m", w)
	}
	now = now.Add(40 * time.Second)
	if w := l.blocked("a"); w != 20*time.Second {
		t.Errorf("40s later: wait %s; want 20s", w)
	}
	if w := l.blocked("b"); w != 0 {
		t.Errorf("another address waits %s", w)
	}
	now = now.Add(20 * time.Second)
	if w := l.blocked("a"); w != 0 {
		t.Errorf("after the window: wait %s", w)
	}

	// Many addresses share one budget past the bound instead of growing
	// the map.
	for i := range maxLimitedClients + 500 {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.clients); n > maxLimitedClients+1 {
		t.Errorf("%d addresses tracked; want at most %d", n, maxLimitedClients+1)
	}
	if w := l.blocked("192.0.2.1"); w == 0 {
		t.Error("a new address past the bound is not limited with the others")
	}
	now = now.Add(time.Minute)
	if w := l.fail("192.0.2.1"); w != 0 || len(l.clients) > 2 {
		t.Errorf("after the window: wait %s, %d tracked; want the old windows swept", w, len(l.clients))
	}
}

func TestClientKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	a, b := clientKey(net.ParseIP("2001:db8:1:2::1")), clientKey(net.ParseIP("2001:db8:1:2:ffff::9"))
	if a != b || a == clientKey(net.ParseIP("2001:db8:1:3::1")) {
		t.Errorf("keys %q %q", a, b)
	}
	if k := clientKey(net.ParseIP("192.0.2.1")); k != "192.0.2.1" {
		t.Errorf("IPv4 key %q", k)
	}
}

func TestRevokedSetBound(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	r := newRevokedSet(3)
	r.add("soon", now.Add(time.Minute), now)
	r.add("b", now.Add(time.Hour), now)
	r.add("c", now.Add(time.Hour), now)
	r.add("d", now.Add(time.Hour), now)
	if r.has("soon", now) || !r.has("b", now) || !r.has("d", now) || len(r.ids) != 3 {
		t.Errorf("past the bound the session closest to expiring goes first: %v", r.ids)
	}
	if r.has("b", now.Add(time.Hour)) {
		t.Error("a revocation outlived its session")
	}
}
