package config

import _ "embed"

// Default is the built-in site's configuration (tessera.yaml in this
// package): the three fragments on their default ports and three pages.
//
//go:embed tessera.yaml
var Default []byte
