package config

import (
	"slices"
	"strings"
)

// compileContract works out what a page's fragments may add to its
// headers: the fragments it may hold (its slots' and those they may
// nest), and the Vary of the request values they read.
func (p *Page) compileContract(site *Site) {
	var names []string
	var walk func(name string)
	walk = func(name string) {
		if slices.Contains(names, name) || site.Fragments[name] == nil {
			return
		}
		names = append(names, name)
		for _, n := range site.Fragments[name].Nest {
			walk(n)
		}
	}
	for _, s := range p.slots {
		walk(s.Fragment.Name)
	}
	p.fragments = names
	vary := []string{"Accept-Encoding"}
	add := func(h string) {
		if !slices.ContainsFunc(vary, func(v string) bool { return strings.EqualFold(v, h) }) {
			vary = append(vary, h)
		}
	}
	for _, name := range names {
		f := site.Fragments[name]
		for _, in := range f.Vary {
			if site.Inputs[in].Cookie != "" {
				add("Cookie")
			}
		}
		if len(f.ForwardCookies) > 0 {
			add("Cookie")
		}
		for _, h := range f.ForwardHeaders {
			add(h)
		}
	}
	p.vary = strings.Join(vary, ", ")
}
