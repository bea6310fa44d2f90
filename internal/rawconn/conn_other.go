//go:build !linux

package rawconn

import "net"

// Wrap returns c: outside Linux connections keep the standard path.
func Wrap(c net.Conn) net.Conn { return c }
