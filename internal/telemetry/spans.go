package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tessera-dev/tessera/composer"
)

// exportTimeout bounds one OTLP request.
const exportTimeout = 10 * time.Second

// newTracerProvider returns a provider that batches spans to endpoint, and
// the HTTP client it sends them with: shutting the provider down leaves the
// client's idle connections open, so Close closes them.
func newTracerProvider(endpoint, service string, queue int, log *slog.Logger) (*sdktrace.TracerProvider, *http.Client, error) {
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: exportTimeout}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHTTPClient(hc), otlptracehttp.WithTimeout(exportTimeout))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: otlp exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", service)))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// The composer decided the ids and already sent them to the
		// fragments; every page is kept so those ids always resolve.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithIDGenerator(eventIDs{}),
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: log},
			sdktrace.WithMaxQueueSize(queue),
			sdktrace.WithMaxExportBatchSize(min(queue, sdktrace.DefaultMaxExportBatchSize))),
	)
	return tp, hc, nil
}

func (t *Telemetry) pageSpan(e composer.PageEvent) {
	ctx := context.Background()
	if parent, ok := spanContext(e.TraceID, e.ParentID); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx = withIDs(ctx, e.TraceID, e.SpanID)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", "GET"),
		attribute.String("http.route", e.Page),
		attribute.Int("http.response.status_code", e.Status),
		attribute.String("tessera.request_id", e.RequestID),
	}
	_, span := t.tracer.Start(ctx, "GET "+e.Page,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(e.Start), trace.WithAttributes(attrs...))
	if e.Status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(e.Status))
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Dur)))
}

func (t *Telemetry) slotSpan(e composer.SlotEvent) {
	ctx := context.Background()
	if parent, ok := spanContext(e.TraceID, e.ParentID); ok {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	ctx = withIDs(ctx, e.TraceID, e.SpanID)
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, attribute.String("tessera.fragment", e.Fragment))
	if e.Result != "" {
		attrs = append(attrs, attribute.String("tessera.cache.result", e.Result))
	}
	if e.Served != "" {
		attrs = append(attrs, attribute.String("tessera.served", e.Served))
	}
	_, span := t.tracer.Start(ctx, "fragment "+e.Fragment,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(e.Start), trace.WithAttributes(attrs...))
	if e.Err != nil {
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Dur)))
}

// spanContext is the sampled span spanID of trace traceID, when both are
// valid hex ids.
func spanContext(traceID, spanID string) (trace.SpanContext, bool) {
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	sid, err := trace.SpanIDFromHex(spanID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}), true
}

// eventIDs gives a new span the ids the composer already chose for it,
// carried in the context by withIDs; an id that is missing or malformed is
// made up, so the span is still exported.
type eventIDs struct{}

type idsKey struct{}

type spanIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

func withIDs(ctx context.Context, traceID, spanID string) context.Context {
	var ids spanIDs
	ids.trace, _ = trace.TraceIDFromHex(traceID)
	ids.span, _ = trace.SpanIDFromHex(spanID)
	return context.WithValue(ctx, idsKey{}, ids)
}

func (eventIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	ids, _ := ctx.Value(idsKey{}).(spanIDs)
	for !ids.trace.IsValid() {
		putUint64(ids.trace[:8])
		putUint64(ids.trace[8:])
	}
	return ids.trace, spanID(ids.span)
}

func (eventIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	ids, _ := ctx.Value(idsKey{}).(spanIDs)
	return spanID(ids.span)
}

func spanID(sid trace.SpanID) trace.SpanID {
	for !sid.IsValid() {
		putUint64(sid[:])
	}
	return sid
}

func putUint64(b []byte) {
	v := rand.Uint64()
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// loggedExporter logs export failures itself, once per run of failures,
// rather than leaving them to OpenTelemetry's process-wide error handler.
type loggedExporter struct {
	sdktrace.SpanExporter
	log     *slog.Logger
	failing atomic.Bool
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		if !e.failing.Swap(true) {
			e.log.Warn("trace export failed; spans are dropped until it recovers", slog.Int("spans", len(spans)), slog.Any("err", err))
		}
		return nil
	}
	if e.failing.Swap(false) {
		e.log.Info("trace export recovered")
	}
	return nil
}

var (
	_ sdktrace.IDGenerator  = eventIDs{}
	_ sdktrace.SpanExporter = (*loggedExporter)(nil)
)
