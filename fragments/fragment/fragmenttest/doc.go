// Package fragmenttest runs a fragment service in memory for tests: no
// network, no ports, the real server underneath.
package fragmenttest
