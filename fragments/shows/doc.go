// Package shows is the new-shows fragment service: a catalogue of shows,
// newest first, as a horizontally scrolling row of the latest (view=row,
// the default) or as a grid (view=grid, with an optional limit=N).
//
// Poster artwork is generated inline SVG, so the fragment needs no image
// hosting. Callers authenticate with HMAC-signed requests.
//
// Editors add shows with POST /shows (a bearer token and a JSON body). Added
// shows are appended to a JSON-lines file and loaded again at start, and
// Config.OnChange is called after each addition so that caches holding the
// old catalogue can be dropped at once.
package shows
