package composer

import (
	"github.com/tessera-dev/tessera/composer/config"
	"github.com/tessera-dev/tessera/composer/zparts"
)

// page is a configured page prepared for serving, once per config load:
// its static parts compressed, the cuts where its head and its tail take
// what a request adds, and each slot's report name.
type page struct {
	*config.Page
	parts []pagePart
	// chains are the page's slots' names as a plannedSlot reports them.
	chains [][]string
	// head is where the first static part is cut to take what the
	// primary and the slots' stylesheets add to the head.
	head headCuts
	// tailCut is where an out-of-order page's patches go in its last
	// static part (before </body>), and tail that part's two sides
	// compressed.
	tailCut int
	tail    [2]*zparts.Block
}

// pagePart is a piece of the layout: static bytes (compressed once into
// block) or a slot.
type pagePart struct {
	static []byte
	slot   *config.Slot
	block  *zparts.Block
}

// preparePage prepares p for serving.
func preparePage(p *config.Page) *page {
	pg := &page{Page: p}
	for _, part := range p.Parts() {
		pg.parts = append(pg.parts, pagePart{static: part.Static, slot: part.Slot})
	}
	for _, s := range p.Slots() {
		pg.chains = append(pg.chains, []string{s.Fragment.Name})
	}
	pg.cutHead()
	pg.compressParts()
	return pg
}

// preparePages prepares every page of s.
func preparePages(s *config.Site) map[*config.Page]*page {
	pages := make(map[*config.Page]*page, len(s.Pages))
	for _, p := range s.Pages {
		pages[p] = preparePage(p)
	}
	return pages
}
