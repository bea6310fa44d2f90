package app

import (
	"net"
	"strings"
)

// EnvAdminHosts lists, comma-separated, further names the composer is
// known by for the admin API and dashboard (admin.Options.Hosts), e.g. the
// name operators reach it by through a proxy.
const EnvAdminHosts = "TESSERA_ADMIN_HOSTS"

// AdminHosts returns the names the admin API and dashboard accept in Host
// besides the loopback names and the address a request reached: those in
// TESSERA_ADMIN_HOSTS, and the listen address when it names a host.
func AdminHosts(getenv func(string) string, listen string) []string {
	var hosts []string
	for _, h := range strings.Split(getenv(EnvAdminHosts), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" && net.ParseIP(host) == nil {
		hosts = append(hosts, listen)
	}
	return hosts
}
