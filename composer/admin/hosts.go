package admin

import (
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// knownHosts says which Host headers name this composer. A page of another
// site that had its name re-pointed at the composer's address (DNS
// rebinding) is same-origin to the browser, so neither loopback access nor
// the Origin check stops it: only its Host, which names the attacker's
// domain, gives it away.
//
// Known are localhost, 127.0.0.1, [::1] and the address the connection
// reached, each at the port it reached, plus the configured names: "name"
// at any port, "name:port" at that port only.
type knownHosts struct {
	anyPort map[string]bool // lowercase name, brackets stripped
	exact   map[string]bool // lowercase "name:port"
}

func newKnownHosts(names []string) knownHosts {
	k := knownHosts{anyPort: map[string]bool{}, exact: map[string]bool{}}
	for _, n := range names {
		name, port, ok := splitHost(strings.ToLower(strings.TrimSpace(n)))
		switch {
		case !ok:
		case port == "":
			k.anyPort[name] = true
		default:
			k.exact[name+":"+port] = true
		}
	}
	return k
}

// allows reports whether rc names a known host.
func (k knownHosts) allows(rc *fasthttp.RequestCtx) bool {
	name, port, ok := splitHost(string(bytes.ToLower(rc.Host())))
	if !ok {
		return false
	}
	if port == "" {
		port = "80"
		if rc.IsTLS() {
			port = "443"
		}
	}
	if k.anyPort[name] || k.exact[name+":"+port] {
		return true
	}
	switch name {
	case "localhost", "127.0.0.1", "::1":
	default:
		local, ok := rc.LocalAddr().(*net.TCPAddr)
		if !ok || local.IP.IsUnspecified() || !strings.EqualFold(local.IP.String(), name) {
			return false
		}
	}
	// The port the connection reached; an address that is not TCP (an
	// in-memory listener) has none to compare.
	if local, ok := rc.LocalAddr().(*net.TCPAddr); ok && local.Port != 0 {
		return strconv.Itoa(local.Port) == port
	}
	return true
}

// splitHost splits "name", "name:port", "[v6]" or "[v6]:port" into a name
// without brackets and a port ("" when absent). It refuses what no browser
// would send as a Host.
func splitHost(h string) (name, port string, ok bool) {
	if h == "" {
		return "", "", false
	}
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", false
		}
		name, rest := h[1:end], h[end+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return "", "", false
		}
		return name, port, validPort(port)
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if strings.ContainsRune(name, ':') {
			return "", "", false // an IPv6 address without brackets
		}
	} else {
		name = h
	}
	return name, port, name != "" && validPort(port)
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && p[0] != '+'
}

// unknownHost is the refusal of a request naming a host the composer is
// not known by.
func unknownHost(rc *fasthttp.RequestCtx) *Error {
	return &Error{Status: fasthttp.StatusForbidden, Msg: "this composer is not known by the host " + strconv.Quote(truncate(string(rc.Host()), 80)) +
		"; use its address or localhost, or add the name to admin.hosts (TESSERA_ADMIN_HOSTS)"}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
