// Package admin is the composer's operator API under /_tessera/api/: list
// the fragments with their effective cache settings and counters, change or
// clear a fragment's TTL override at run time, and purge a fragment.
//
//	GET    /_tessera/api/fragments              every fragment, as JSON rows
//	GET    /_tessera/api/fragments/NAME         one fragment
//	PUT    /_tessera/api/fragments/NAME/ttl     {"ttl":"30s","swr":"1m","sie":"10m"}, each optional
//	DELETE /_tessera/api/fragments/NAME/ttl     back to the config's values
//	POST   /_tessera/api/purge?fragment=NAME    drop every cached copy
//
// Requests carry "Authorization: Bearer TOKEN". With no token configured
// the API answers only requests made from the composer's own host. Either
// way a request must name a Host the composer is known by (Options.Hosts),
// and wrong tokens are limited per client address (429 with Retry-After).
// Changes are written through the settings store, so every composer
// sharing it applies them.
package admin
