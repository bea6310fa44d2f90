// Package templates holds the page chrome of the Tessera+ site and the templ
// components shared by pages: the built-in layouts, the slot marker, and the
// error page.
//
// A layout is a whole HTML document with slots where fragments go. Each slot
// is a wrapper element carrying data-slot="NAME" whose only content is a slot
// marker, an HTML comment the composer finds and replaces with the
// fragment's HTML:
//
//	<section class="slot slot-hero" data-slot="headlines" aria-label="Top stories"><!--@slot:headlines--></section>
//
// A marker may carry parameters, which the composer passes to the fragment:
//
//	<!--@slot:shows view=grid-->
//
// Layouts returns the built-in layouts by name:
//
//	home     headlines (hero), then shows (wide) beside weather (side)
//	shows    shows view=grid, beside headlines view=list
//	weather  weather view=full, beside headlines view=list
//
// Every layout links /static/css/site.css (the chrome, from package web),
// and needs no JavaScript; each fragment brings its own stylesheet, which
// the composer places on the page (docs/fragment-contract.md). The composer renders each layout once per configuration load,
// so a layout depends only on its LayoutData, never on the request.
//
// The chrome styles the wrappers and two classes the composer may emit in a
// slot: .frag-fallback for a fragment's fallback text and .frag-empty for an
// empty placeholder.
package templates
