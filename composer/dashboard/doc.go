// Package dashboard is the composer's operator dashboard under /_tessera/,
// beside the admin API (/_tessera/api/), which it is mounted behind as
// admin.Options.Next:
//
//	GET  /_tessera/                             every fragment: URL, auth kind, versions seen,
//	                                            hit ratio, p50/p99, error and timeout rates,
//	                                            circuit, last error, pages, TTL/SWR/SIE (editable), purge
//	GET  /_tessera/pages                        every page with its slots in order and their health
//	GET  /_tessera/stats.json                   the same numbers as JSON, polled by the pages every 2s
//	GET  /_tessera/login, POST /_tessera/login  sign in with the admin token
//	GET  /_tessera/logout, POST /_tessera/logout
//	POST /_tessera/fragments/NAME/ttl           the TTL form without script (ttl, swr, sie, action=reset)
//	POST /_tessera/fragments/NAME/purge         the purge button without script
//	GET  /_tessera/static/FILE                  the dashboard's script and styles
//
// Access follows the API's rule: the admin token as a bearer token, or, with
// no token configured, requests from the composer's own host only. A
// browser signs in once with the token and then carries a session cookie
// (see admin.Sessions), which the API accepts too, until it expires or is
// signed out (revoked on every composer sharing the settings store). Every write made with the
// cookie must carry the session's CSRF token (a hidden form field, or the
// X-CSRF-Token header from the script) and come from this site
// (Sec-Fetch-Site, Origin).
//
// Edits made with script go through the admin API, and those without
// through the same settings store, so every composer sharing it applies
// them. Pages are sent with a Content-Security-Policy that allows only the
// dashboard's own script and styles.
package dashboard
