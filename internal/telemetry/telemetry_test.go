package telemetry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/internal/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	start = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

	pageEvent = composer.PageEvent{
		Page: "/weather", RequestID: "req-1",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", ParentID: "b7ad6b7169203331",
		Status: 200, Start: start, Dur: 25 * time.Millisecond,
	}
	hitSlot = composer.SlotEvent{
		Page: "/weather", Fragment: "weather", RequestID: "req-1",
		TraceID: pageEvent.TraceID, SpanID: "1111111111111111", ParentID: pageEvent.SpanID,
		Result: "hit", Start: start.Add(time.Millisecond), Dur: 2 * time.Millisecond,
	}
	failedSlot = composer.SlotEvent{
		Page: "/weather", Fragment: "headlines", RequestID: "req-1",
		TraceID: pageEvent.TraceID, SpanID: "2222222222222222", ParentID: pageEvent.SpanID,
		Result: "error", Served: "stale", Start: start.Add(time.Millisecond), Dur: 20 * time.Millisecond,
		Err: errors.New("fragment timeout"),
	}
)

// logLines decodes JSON log lines, dropping the time.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		delete(m, "time")
		lines = append(lines, m)
	}
	return lines
}

func TestLogWithoutEndpoint(t *testing.T) {
	t.Parallel()
	ms := func(d time.Duration) float64 { return float64(d) }
	debugSlots := []map[string]any{
		{
			"level": "DEBUG", "msg": "fragment span", "page": "/weather", "fragment": "weather",
			"cache": "hit", "served": "", "dur": ms(2 * time.Millisecond),
			"request_id": "req-1", "trace_id": pageEvent.TraceID, "span_id": "1111111111111111",
		},
		{
			"level": "DEBUG", "msg": "fragment span", "page": "/weather", "fragment": "headlines",
			"cache": "error", "served": "stale", "dur": ms(20 * time.Millisecond), "err": "fragment timeout",
			"request_id": "req-1", "trace_id": pageEvent.TraceID, "span_id": "2222222222222222",
		},
	}
	access := map[string]any{
		"level": "INFO", "msg": "request", "page": "/weather", "status": float64(200),
		"dur": ms(25 * time.Millisecond), "request_id": "req-1", "trace_id": pageEvent.TraceID,
	}
	debugPage := map[string]any{
		"level": "DEBUG", "msg": "page span", "page": "/weather", "status": float64(200),
		"dur": ms(25 * time.Millisecond), "request_id": "req-1", "trace_id": pageEvent.TraceID,
		"span_id": pageEvent.SpanID, "parent_id": pageEvent.ParentID,
	}
	tests := []struct {
		name      string
		level     slog.Level
		accessLog bool
		want      []map[string]any
	}{
		{"debug with access log", slog.LevelDebug, true, append(debugSlots, access, debugPage)},
		{"debug", slog.LevelDebug, false, append(debugSlots, debugPage)},
		{"info with access log", slog.LevelInfo, true, []map[string]any{access}},
		{"info", slog.LevelInfo, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.level}))
			tel, err := telemetry.New(telemetry.Options{Logger: log, AccessLog: tt.accessLog})
			if err != nil {
				t.Fatal(err)
			}
			tel.ObserveSlot(hitSlot)
			tel.ObserveSlot(failedSlot)
			tel.ObservePage(pageEvent)
			if err := tel.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, logLines(t, &buf)); diff != "" {
				t.Errorf("log lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNilLogger(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.New(telemetry.Options{AccessLog: true})
	if err != nil {
		t.Fatal(err)
	}
	tel.ObserveSlot(failedSlot)
	tel.ObservePage(pageEvent)
	if err := tel.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var none *telemetry.Telemetry
	if err := none.Close(t.Context()); err != nil {
		t.Fatalf("Close on nil: %v", err)
	}
}

func TestTracesEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"none", nil, ""},
		{"base", map[string]string{telemetry.EnvOTLPEndpoint: "http://127.0.0.1:4318"}, "http://127.0.0.1:4318/v1/traces"},
		{"base with slash", map[string]string{telemetry.EnvOTLPEndpoint: "http://127.0.0.1:4318/"}, "http://127.0.0.1:4318/v1/traces"},
		{"base with path", map[string]string{telemetry.EnvOTLPEndpoint: "https://otel.example/otlp"}, "https://otel.example/otlp/v1/traces"},
		{"traces wins", map[string]string{
			telemetry.EnvOTLPEndpoint:       "http://127.0.0.1:4318",
			telemetry.EnvOTLPTracesEndpoint: "http://127.0.0.1:9999/custom",
		}, "http://127.0.0.1:9999/custom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := telemetry.TracesEndpoint(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("TracesEndpoint = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewRefusesBadEndpoint(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{"127.0.0.1:4318", "ftp://127.0.0.1/", "http://", "http://[::1"} {
		if tel, err := telemetry.New(telemetry.Options{OTLPEndpoint: endpoint}); err == nil {
			_ = tel.Close(t.Context())
			t.Errorf("New(%q) accepted it", endpoint)
		} else if !strings.HasPrefix(err.Error(), "telemetry: otlp endpoint") {
			t.Errorf("New(%q): %v", endpoint, err)
		}
	}
}
