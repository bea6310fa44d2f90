// Package settings is the run-time tuning store shared by all composer
// replicas: per-fragment TTL overrides and purge generations, the
// Tuning layer over the config.
//
// With Redis, overrides live in the hash tessera:ttl (field = fragment,
// value = JSON of Override), generations in the hash tessera:gen
// (field = fragment, value bumped with HINCRBY), and every change is
// announced on the channel tessera:events. A composer runs Watch, which
// reloads both hashes on every announcement, after every reconnect and every
// few seconds as a safety net, so a change reaches every replica within a
// second and survives restarts.
//
// Without Redis, the memory store keeps the same settings in the process.
// In both cases a write through a Store is applied to that Store's watchers
// before the write returns.
package settings
