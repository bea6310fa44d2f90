// Package web holds the site's static assets, embedded into the binary so a
// single executable serves the whole site.
//
// Static is rooted at the static directory, so its paths carry no prefix:
// "css/site.css", "favicon.svg", "img/logo.svg". The composer serves it
// under /static/, which gives the URLs the page chrome links to:
//
//	/static/css/site.css     page chrome, grid, slot wrappers and fallbacks
//	/static/favicon.svg      site icon
//	/static/img/logo.svg     the Tessera+ wordmark
//	/static/img/hero-bg.svg  backdrop of the headlines hero
//
// The assets are hand-written and need no build step. site.css defines the
// palette as custom properties (--color-bg, --color-surface, --color-text,
// --color-muted, --color-accent, --color-accent-text, --color-focus, ...)
// that fragment styles may use to match the chrome. A fragment's own
// styles are not here: each fragment service serves its stylesheet and
// declares it on its answers (docs/fragment-contract.md), and the composer
// places it on the page. site.css keeps what the configured fallbacks need
// (.frag-fallback, .frag-fallback-bar, -ticker, -mini), since a fragment
// that is down brings no stylesheet.
//
// Every file is dated BuildTime (when the binary was written), because
// embed.FS dates files at the zero time: the composer sends a real
// Last-Modified and answers If-Modified-Since correctly across deploys.
// A directory under /static/ is answered with the 404 page.
package web
