package upstream

import (
	"crypto/tls"
	"crypto/x509"
)

// TrustOnly makes c verify its services' certificates against roots alone,
// as a test's own certificate authority.
func TrustOnly(c *Client, roots *x509.CertPool) {
	c.http.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
