package admin

import (
	"net"
	"sync"
	"time"
)

// Sign-in limits: how many wrong tokens a client address may present in
// a window before it is refused with 429 until the window ends.
const (
	DefaultSignInFailures = 5
	DefaultSignInWindow   = time.Minute
	// maxLimitedClients bounds the addresses tracked at once; past it,
	// new addresses share one budget, so many addresses cannot grow
	// memory or guess more.
	maxLimitedClients = 4096
	overflowClient    = "*"
)

// signInLimiter counts failed sign-ins per client address in fixed
// windows that start at the first failure. It is safe for concurrent use.
type signInLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]*attempts
}

type attempts struct {
	start  time.Time
	failed int
}

func newSignInLimiter(max int, window time.Duration, now func() time.Time) *signInLimiter {
	if max <= 0 {
		max = DefaultSignInFailures
	}
	if window <= 0 {
		window = DefaultSignInWindow
	}
	return &signInLimiter{max: max, window: window, now: now, clients: map[string]*attempts{}}
}

// clientKey is the address a limit applies to: an IPv6 client by its /64,
// which one host usually holds whole.
func clientKey(ip net.IP) string {
	if ip == nil {
		return overflowClient
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// blocked reports how long client must wait before it may try again; 0
// when it may now.
func (l *signInLimiter) blocked(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.clients[client]
	if a == nil && len(l.clients) >= maxLimitedClients {
		a = l.clients[overflowClient]
	}
	if a == nil || a.failed < l.max {
		return 0
	}
	left := a.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		return 0
	}
	return left
}

// fail records a failed sign-in by client and reports how long it must
// now wait (0 while it has tries left).
func (l *signInLimiter) fail(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	a := l.clients[client]
	if a == nil {
		if len(l.clients) >= maxLimitedClients {
			l.sweep(now)
		}
		if len(l.clients) >= maxLimitedClients {
			client = overflowClient
			a = l.clients[client]
		}
	}
	if a == nil || now.Sub(a.start) >= l.window {
		a = &attempts{start: now}
		l.clients[client] = a
	}
	a.failed++
	if a.failed < l.max {
		return 0
	}
	return a.start.Add(l.window).Sub(now)
}

// succeed forgets client's failures.
func (l *signInLimiter) succeed(client string) {
	l.mu.Lock()
	delete(l.clients, client)
	l.mu.Unlock()
}

// sweep drops the windows that ended; l.mu must be held.
func (l *signInLimiter) sweep(now time.Time) {
	for k, a := range l.clients {
		if now.Sub(a.start) >= l.window {
			delete(l.clients, k)
		}
	}
}
