package admin

import (
	"crypto/sha256"
	"net"
)

// Decide exposes the access decision for a configured token ("" for none).
func Decide(token, authorization string, remote net.IP, proxied bool) int {
	var hash []byte
	if token != "" {
		h := sha256.Sum256([]byte(token))
		hash = h[:]
	}
	return decide(hash, []byte(authorization), remote, proxied)
}
