package redistest

import (
	"os/exec"
	"testing"
)

var Unavailable = unavailable

// StartOnPort starts a server on port, as a restart would, and reports
// the error instead of failing the test.
func StartOnPort(t testing.TB, port int) error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return err
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port}
	t.Cleanup(s.stop)
	return s.start()
}

// Port is the port s listens on.
func (s *Server) Port() int { return s.port }
