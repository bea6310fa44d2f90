package upstream

import (
	"net"
	"testing"
	"time"

	"github.com/tessera-dev/tessera/internal/rawconn"
)

// The pool dials with no timeout of its own for a caller that waited for
// a freed place: that dial must still connect.
func TestDialWithoutTimeoutConnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, timeout := range []time.Duration{0, time.Second} {
		c, err := dial(ln.Addr().String(), timeout)
		if err != nil {
			t.Fatalf("dial with timeout %v: %v", timeout, err)
		}
		if _, ok := c.(*rawconn.Conn); !ok {
			t.Errorf("dial with timeout %v gave a %T, want a *rawconn.Conn", timeout, c)
		}
		c.Close()
	}
}
