// Package composer assembles pages from fragment services.
//
// A Page is a layout with slots. For each request the Composer looks every
// slot's fragment up in the Cache in one round trip, fetches the missing or
// expired ones from their services in parallel (each bounded by its own
// timeout, concurrent misses for one key coalesced), and stitches the page:
// the static parts of the layout stream out at once and each slot is written,
// in document order, as soon as it and every slot before it are ready.
//
// A fragment that fails or is late is replaced, in order, by its stale cached
// copy, its configured fallback, or an empty placeholder; a page only fails
// when a fragment marked primary cannot be served at all.
package composer
