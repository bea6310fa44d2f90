// Package composer assembles pages from fragment services.
//
// It serves the Site compiled by package config: each configured page is
// prepared once per load (page.go: its static parts compressed, its head
// and tail cut). Composer.ServePage is the whole request
// path, five steps each in its own file: plan (plan.go, pure: keys, inputs,
// forwarded values, budget), lookup (lookup.go: one cache round trip),
// fan-out (fanout.go: the missing or stale slots fetched in parallel, each
// within its own timeout, concurrent misses for one key and the same
// forwarded values coalesced), stitch (stitch.go: the page whole or
// streamed, each slot in document order or, ooo.go, its place sent at once
// and its markup patched in as it arrives; gzip or zstd from parts
// compressed ahead of time) and observe (observe.go). Slot markers found
// in a fragment's answer re-enter plan, lookup and fan-out (nested.go)
// within the page's one budget.
//
// A fragment that fails or is late is replaced, in order, by its stale cached
// copy, its configured fallback, or an empty placeholder; a page only fails
// when a fragment marked primary cannot be served at all.
package composer
