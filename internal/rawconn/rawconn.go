// Package rawconn makes a TCP connection's reads and writes single
// non-blocking system calls that keep the thread's scheduler slot.
//
// A socket the runtime polls is non-blocking, so a read or write on it
// returns at once: it moves what it can, or says the socket is not ready.
// The standard library still makes each such call as one that might
// block. The runtime then marks the thread as in a system call, and its
// monitor thread, seeing it there at two ticks in a row, hands the
// thread's work to another thread, waking one. Under load on a few
// cores those hand-offs, and the monitor's waking every 20 µs to look,
// cost a page more than the calls themselves. Here a call that finds the
// socket not ready waits in the netpoller like any other, so deadlines,
// Close and every error behave as they do on a net.TCPConn.
package rawconn

import "net"

// Listener hands out its TCP connections wrapped by Wrap.
type Listener struct{ net.Listener }

// Accept waits for the next connection.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
