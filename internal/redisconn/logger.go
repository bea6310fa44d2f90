package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallLogger routes go-redis's own log lines (a pool that cannot
// dial, a Sentinel switching masters) through log instead of raw lines on
// stderr: each kind of line at most once per LogEvery, the next one
// saying how many were left out. go-redis has one logger per process, so
// each process calls this once, where it builds its logger.
func InstallLogger(log *slog.Logger) {
	redis.SetLogger(newRedisLogger(log, LogEvery, time.Now))
}

// LogEvery is how often one kind of go-redis line is logged at most.
const LogEvery = 10 * time.Second

// redisLogger adapts slog to go-redis's logging interface, rate-limited
// per format string (go-redis formats are constants, so one format is one
// kind of line).
type redisLogger struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*redisLogKind
}

type redisLogKind struct {
	last       time.Time
	suppressed int
}

// maxRedisLogKinds bounds the formats remembered; past it, lines share
// one budget.
const maxRedisLogKinds = 64

func newRedisLogger(log *slog.Logger, every time.Duration, now func() time.Time) *redisLogger {
	return &redisLogger{log: log.With("component", "redis"), every: every, now: now, kinds: map[string]*redisLogKind{}}
}

// Printf logs one go-redis line, unless one of its kind was logged less
// than every ago.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	now := l.now()
	l.mu.Lock()
	key := format
	if _, ok := l.kinds[key]; !ok && len(l.kinds) >= maxRedisLogKinds {
		key = ""
	}
	k := l.kinds[key]
	if k == nil {
		k = &redisLogKind{}
		l.kinds[key] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.every {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	if suppressed > 0 {
		l.log.WarnContext(ctx, msg, "suppressed", suppressed, "every", LogEvery.String())
		return
	}
	l.log.WarnContext(ctx, msg)
}
