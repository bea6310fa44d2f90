// Package config is the composer's configuration: the YAML schema
// (Config), its checks (Compile reports every problem, with its file, line
// and field) and the compiled Site a composer serves from — fragments,
// inputs, pages routed by path with their layouts bound to slots, the
// delivery settings and the limits of nested composition.
//
// A Site is immutable and built with no I/O at request time; a reload
// compiles a new one and swaps it in. What the request pipeline needs of a
// page or a fragment it reads through methods (Parts, Fallback, Secret…),
// so that nothing outside this package can change a Site in force.
package config
