// Package telemetry turns the composer's page and slot events into traces.
//
// With an OTLP endpoint, every page becomes a server span ("GET /path") and
// every slot a client span ("fragment NAME") under it, exported over
// OTLP/HTTP in batches. The spans carry exactly the ids the composer put on
// the wire: the slot span is the one whose id the fragment received in
// traceparent, so a fragment's own spans hang under it. Without an endpoint
// the same data goes to the debug log. Either way an optional access log
// writes one info line per page.
package telemetry
