package telemetry_test

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/internal/telemetry"
)

// receiver is an OTLP/HTTP traces endpoint that keeps what it is sent.
// When blocking, each request waits for release.
type receiver struct {
	*httptest.Server
	entered  chan struct{} // gets a value as each request arrives
	block    chan struct{}
	once     sync.Once
	mu       sync.Mutex
	requests int
	spans    []gotSpan
}

type gotSpan struct {
	service string
	span    *tracepb.Span
}

func newReceiver(tb testing.TB, blocking bool) *receiver {
	tb.Helper()
	r := &receiver{entered: make(chan struct{}, 1), block: make(chan struct{})}
	if !blocking {
		r.release()
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.Close)
	tb.Cleanup(r.release)
	return r
}

func (r *receiver) release() { r.once.Do(func() { close(r.block) }) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	select {
	case r.entered <- struct{}{}:
	default:
	}
	<-r.block
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var msg coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want an OTLP protobuf body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	for _, rs := range msg.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, gotSpan{service, s})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *receiver) received() []gotSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotSpan(nil), r.spans...)
}

// newTelemetry exports to r; cleanup releases r and flushes.
func newTelemetry(tb testing.TB, r *receiver, opts telemetry.Options) *telemetry.Telemetry {
	tb.Helper()
	opts.OTLPEndpoint = r.URL
	tel, err := telemetry.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		r.release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Close(ctx); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return tel
}

// span is the part of an exported span the tests compare.
type span struct {
	Service      string
	Name         string
	Kind         tracepb.Span_SpanKind
	TraceID      string
	SpanID       string
	ParentSpanID string
	Start, End   time.Time
	Attrs        map[string]any
	Status       tracepb.Status_StatusCode
	Message      string
}

func toSpan(g gotSpan) span {
	s := g.span
	attrs := map[string]any{}
	for _, kv := range s.GetAttributes() {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			attrs[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			attrs[kv.GetKey()] = v.IntValue
		default:
			attrs[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return span{
		Service: g.service, Name: s.GetName(), Kind: s.GetKind(),
		TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()),
		Start:        time.Unix(0, int64(s.GetStartTimeUnixNano())).UTC(),
		End:          time.Unix(0, int64(s.GetEndTimeUnixNano())).UTC(),
		Attrs:        attrs, Status: s.GetStatus().GetCode(), Message: s.GetStatus().GetMessage(),
	}
}

func TestSpansExported(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	tel, err := telemetry.New(telemetry.Options{OTLPEndpoint: r.URL, ServiceName: "composer-test"})
	if err != nil {
		t.Fatal(err)
	}
	rootPage := composer.PageEvent{
		Page: "/shows", RequestID: "req-2", TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b9c7c989f97918e1",
		Status: 502, Start: start, Dur: time.Second,
	}
	noIDSlot := composer.SlotEvent{
		Page: "/shows", Fragment: "shows", RequestID: "req-2", TraceID: rootPage.TraceID, ParentID: rootPage.SpanID,
		Result: "miss", Start: start, Dur: time.Second,
	}
	tel.ObserveSlot(hitSlot)
	tel.ObserveSlot(failedSlot)
	tel.ObservePage(pageEvent)
	tel.ObserveSlot(noIDSlot)
	tel.ObservePage(rootPage)
	if err := tel.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	got := map[string]span{}
	for _, g := range r.received() {
		got[g.span.GetName()] = toSpan(g)
	}
	// The slot without an id gets a made-up one, still under its page.
	if s := got["fragment shows"]; len(s.SpanID) != 16 || s.SpanID == "0000000000000000" {
		t.Errorf("made-up span id %q", s.SpanID)
	} else {
		s.SpanID = "(made up)"
		got["fragment shows"] = s
	}
	want := map[string]span{
		"GET /weather": {
			Service: "composer-test", Name: "GET /weather", Kind: tracepb.Span_SPAN_KIND_SERVER,
			TraceID: pageEvent.TraceID, SpanID: pageEvent.SpanID, ParentSpanID: pageEvent.ParentID,
			Start: start, End: start.Add(25 * time.Millisecond),
			Attrs: map[string]any{
				"http.request.method": "GET", "http.route": "/weather",
				"http.response.status_code": int64(200), "tessera.request_id": "req-1",
			},
		},
		"fragment weather": {
			Service: "composer-test", Name: "fragment weather", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			TraceID: pageEvent.TraceID, SpanID: "1111111111111111", ParentSpanID: pageEvent.SpanID,
			Start: hitSlot.Start, End: hitSlot.Start.Add(hitSlot.Dur),
			Attrs: map[string]any{"tessera.fragment": "weather", "tessera.cache.result": "hit"},
		},
		"fragment headlines": {
			Service: "composer-test", Name: "fragment headlines", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			TraceID: pageEvent.TraceID, SpanID: "2222222222222222", ParentSpanID: pageEvent.SpanID,
			Start: failedSlot.Start, End: failedSlot.Start.Add(failedSlot.Dur),
			Attrs: map[string]any{
				"tessera.fragment": "headlines", "tessera.cache.result": "error", "tessera.served": "stale",
			},
			Status: tracepb.Status_STATUS_CODE_ERROR, Message: "fragment timeout",
		},
		"GET /shows": {
			Service: "composer-test", Name: "GET /shows", Kind: tracepb.Span_SPAN_KIND_SERVER,
			TraceID: rootPage.TraceID, SpanID: rootPage.SpanID, ParentSpanID: "",
			Start: start, End: start.Add(time.Second),
			Attrs: map[string]any{
				"http.request.method": "GET", "http.route": "/shows",
				"http.response.status_code": int64(502), "tessera.request_id": "req-2",
			},
			Status: tracepb.Status_STATUS_CODE_ERROR, Message: "502",
		},
		"fragment shows": {
			Service: "composer-test", Name: "fragment shows", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			TraceID: rootPage.TraceID, SpanID: "(made up)", ParentSpanID: rootPage.SpanID,
			Start: start, End: start.Add(time.Second),
			Attrs: map[string]any{"tessera.fragment": "shows", "tessera.cache.result": "miss"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exported spans (-want +got):\n%s", diff)
	}
}

func TestDefaultServiceName(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	tel := newTelemetry(t, r, telemetry.Options{})
	tel.ObservePage(pageEvent)
	if err := tel.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans := r.received()
	if len(spans) != 1 || spans[0].service != telemetry.DefaultServiceName {
		t.Fatalf("got %d spans, want 1 from %q: %+v", len(spans), telemetry.DefaultServiceName, spans)
	}
}

// TestFullQueueDoesNotBlock holds the collector's answer so the export
// queue fills, and checks that observing goes on at full speed, dropping.
func TestFullQueueDoesNotBlock(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, true)
	tel := newTelemetry(t, r, telemetry.Options{QueueSize: 8})
	for range 16 {
		tel.ObserveSlot(hitSlot)
	}
	select {
	case <-r.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the exporter never called the receiver")
	}
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			tel.ObserveSlot(hitSlot)
		}
		tel.ObservePage(pageEvent)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ObserveSlot blocked while the export queue was full")
	}
	r.release()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tel.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(r.received()); got == 0 || got > 16+8+1 {
		t.Errorf("received %d spans: want the first batch and at most a queue's worth more", got)
	}
}

func BenchmarkObserveSlot(b *testing.B) {
	b.Run("log", func(b *testing.B) {
		tel, err := telemetry.New(telemetry.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tel.ObserveSlot(failedSlot)
			}
		})
	})
	for _, tt := range []struct {
		name     string
		blocking bool
	}{{"otlp", false}, {"otlp-queue-full", true}} {
		b.Run(tt.name, func(b *testing.B) {
			tel := newTelemetry(b, newReceiver(b, tt.blocking), telemetry.Options{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tel.ObserveSlot(failedSlot)
				}
			})
		})
	}
}
