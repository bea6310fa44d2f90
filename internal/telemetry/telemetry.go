package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tessera-dev/tessera/composer"
)

// Environment variables the caller reads for Options, with the meaning the
// OpenTelemetry specification gives them: the endpoints through
// TracesEndpoint, the service name as Options.ServiceName.
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvServiceName        = "OTEL_SERVICE_NAME"
)

// DefaultServiceName is the service.name of exported spans when
// Options.ServiceName is empty.
const DefaultServiceName = "tessera-composer"

// DefaultQueueSize is how many finished spans may wait for export when
// Options.QueueSize is zero.
const DefaultQueueSize = 2048

// Options configure a Telemetry.
type Options struct {
	// OTLPEndpoint is the OTLP/HTTP traces URL spans are POSTed to. A URL
	// without a path (http://127.0.0.1:4318) gets /v1/traces. Empty means no
	// export: span data goes to the debug log instead.
	OTLPEndpoint string
	// ServiceName is the exported service.name (default DefaultServiceName).
	ServiceName string
	// QueueSize bounds the spans waiting for export; spans beyond it are
	// dropped rather than delaying a request (default DefaultQueueSize).
	QueueSize int
	// AccessLog writes one info line per page.
	AccessLog bool
	// Logger receives the access log, the debug span lines and export
	// failures; nil discards them.
	Logger *slog.Logger
}

// Telemetry receives the composer's events. It is safe for concurrent use;
// its Observe methods never block on the network.
type Telemetry struct {
	log       *slog.Logger
	accessLog bool
	tp        *sdktrace.TracerProvider // nil without an endpoint
	hc        *http.Client
	tracer    trace.Tracer
}

// New returns a Telemetry. With an endpoint it starts the batching
// exporter, which Close stops.
func New(opts Options) (*Telemetry, error) {
	t := &Telemetry{log: opts.Logger, accessLog: opts.AccessLog}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if opts.OTLPEndpoint == "" {
		return t, nil
	}
	endpoint, err := tracesURL(opts.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	if opts.ServiceName == "" {
		opts.ServiceName = DefaultServiceName
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	t.tp, t.hc, err = newTracerProvider(endpoint, opts.ServiceName, opts.QueueSize, t.log)
	if err != nil {
		return nil, err
	}
	t.tracer = t.tp.Tracer("github.com/tessera-dev/tessera/internal/telemetry")
	return t, nil
}

// TracesEndpoint returns the OTLP/HTTP traces URL the environment names:
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended, else "".
func TracesEndpoint(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(EnvOTLPTracesEndpoint)); v != "" {
		return v
	}
	if v := strings.TrimSpace(getenv(EnvOTLPEndpoint)); v != "" {
		return strings.TrimRight(v, "/") + "/v1/traces"
	}
	return ""
}

func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("telemetry: otlp endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("telemetry: otlp endpoint %q: want an http or https URL such as http://127.0.0.1:4318", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// ObservePage records a page: its span, or its debug line, and its access
// log line.
func (t *Telemetry) ObservePage(e composer.PageEvent) {
	if t.accessLog {
		t.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
			slog.String("page", e.Page),
			slog.Int("status", e.Status),
			slog.Duration("dur", e.Dur),
			slog.String("request_id", e.RequestID),
			slog.String("trace_id", e.TraceID))
	}
	if t.tracer != nil {
		t.pageSpan(e)
		return
	}
	if !t.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	t.log.LogAttrs(context.Background(), slog.LevelDebug, "page span",
		slog.String("page", e.Page),
		slog.Int("status", e.Status),
		slog.Duration("dur", e.Dur),
		slog.String("request_id", e.RequestID),
		slog.String("trace_id", e.TraceID),
		slog.String("span_id", e.SpanID),
		slog.String("parent_id", e.ParentID))
}

// ObserveSlot records a slot: its span, or its debug line.
func (t *Telemetry) ObserveSlot(e composer.SlotEvent) {
	if t.tracer != nil {
		t.slotSpan(e)
		return
	}
	if !t.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("page", e.Page),
		slog.String("fragment", e.Fragment),
		slog.String("cache", e.Result),
		slog.String("served", e.Served),
		slog.Duration("dur", e.Dur),
		slog.String("request_id", e.RequestID),
		slog.String("trace_id", e.TraceID),
		slog.String("span_id", e.SpanID),
	}
	if e.Err != nil {
		attrs = append(attrs, slog.Any("err", e.Err))
	}
	t.log.LogAttrs(context.Background(), slog.LevelDebug, "fragment span", attrs...)
}

// Close exports the spans still queued, within ctx, and stops the
// exporter. It is safe on a nil Telemetry and more than once.
func (t *Telemetry) Close(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	err := t.tp.Shutdown(ctx)
	t.hc.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("telemetry: close: %w", err)
	}
	return nil
}

var _ composer.Observer = (*Telemetry)(nil)
