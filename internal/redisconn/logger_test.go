package redisconn

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRedisLoggerRateLimited: 47 dial failures in one outage are one slog
// line, and the next one after the interval says how many were left out.
func TestRedisLoggerRateLimited(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := newRedisLogger(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
	const dial = "redis: connection pool: failed to dial after %d attempts: %v"
	for range 47 {
		l.Printf(context.Background(), dial, 5, "dial tcp 127.0.0.1:6379: connect: connection refused")
		now = now.Add(100 * time.Millisecond)
	}
	l.Printf(context.Background(), "sentinel: new master=%q addr=%q", "cache", "127.0.0.1:7000")
	now = now.Add(10 * time.Second)
	l.Printf(context.Background(), dial, 5, "dial tcp 127.0.0.1:6379: connect: connection refused")

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON slog line: %q", line)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	first := lines[0]
	if first["msg"] != "connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:6379: connect: connection refused" || first["component"] != "redis" || first["level"] != "WARN" {
		t.Errorf("first line %v", first)
	}
	if lines[1]["msg"] != `sentinel: new master="cache" addr="127.0.0.1:7000"` {
		t.Errorf("another kind of line is limited apart: %v", lines[1])
	}
	if lines[2]["suppressed"] != float64(46) {
		t.Errorf("the line after the interval says %v were left out, want 46", lines[2]["suppressed"])
	}
}
