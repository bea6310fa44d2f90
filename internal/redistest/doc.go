// Package redistest runs a real redis-server for tests.
//
// Start launches the redis-server binary found in PATH on a free loopback
// port, with no persistence and its own temporary directory, and stops it when
// the test ends. The returned Server can kill, restart, pause and resume the
// process, so that tests can exercise a Redis that is down, comes back, or
// accepts connections but never answers.
//
// When redis-server is not installed, Start skips the test with a message that
// says how to install it. With CI=true in the environment it fails the test
// instead, so that a CI machine without Redis cannot pass by skipping.
//
// The methods of Server call t.Fatal on failure, so call them from the test
// goroutine.
package redistest
