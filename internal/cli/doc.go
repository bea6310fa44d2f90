// Package cli holds the operator commands of the tessera binary:
//
//	tessera ttl list                      every fragment's cache settings and counters
//	tessera ttl set NAME DURATION [--swr D] [--sie D]
//	tessera ttl clear NAME                back to the config's values
//	tessera purge NAME                    drop every cached copy of a fragment
//	tessera check [FILE]                  validate a composer config
//	tessera config                        print the built-in config
//
// The ttl and purge commands talk to the admin API of a running composer
// (--url, default $TESSERA_URL or http://127.0.0.1:8080, with the token in
// $TESSERA_ADMIN_TOKEN). The composer writes changes through to Redis when
// it has one, so every replica applies them.
package cli
