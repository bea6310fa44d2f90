package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds how long Start and Restart wait for PING to answer.
const readyTimeout = 15 * time.Second

// Server is a redis-server process owned by one test.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// extra are arguments added to every start (cluster mode).
	extra []string

	mu   sync.Mutex
	proc *process
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs redis-server on a free 127.0.0.1 port and waits until it answers
// PING. The process is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil)
}

func start(t testing.TB, extra []string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server not installed: apt-get install redis-server")
		return nil
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), extra: extra}
	t.Cleanup(s.stop)

	// Another process can take the free port between the probe and the
	// bind, so try a few ports before giving up.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
		s.stop()
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns a redis:// URL for database 0 of the server, in the form
// accepted by redis.ParseURL and REDIS_URL.
func (s *Server) URL() string {
	return "redis://" + s.Addr() + "/0"
}

// Client returns a client for database 0 of the server with short timeouts,
// closed when t ends. It is meant for assertions and setup in tests.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill sends SIGKILL to the server and waits for it to exit. Data is lost,
// since the server keeps nothing on disk. Killing a stopped server is a
// no-op.
func (s *Server) Kill() {
	s.t.Helper()
	s.stop()
}

// Restart starts the server again on the same port and waits until it
// answers PING. A running server is killed first.
func (s *Server) Restart() {
	s.t.Helper()
	s.stop()
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		// The old socket can linger for a moment after the process exits.
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "in use") {
			s.t.Fatalf("redistest: restart on %s: %v", s.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause stops the server with SIGSTOP. The kernel still accepts connections
// on its port, but no command gets an answer: a black-holed Redis.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT)
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %v: server on %s is not running", sig, s.Addr())
	}
	if err := syscall.Kill(-s.proc.cmd.Process.Pid, sig); err != nil {
		s.t.Fatalf("redistest: %v: %v", sig, err)
	}
}

// start launches redis-server on s.port and waits for PING.
func (s *Server) start() error {
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()

	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
	}
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()

	p := &process{cmd: cmd, done: make(chan struct{})}
	if err := p.run(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.stop()
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// run starts the process and waits for it on a goroutine locked to its OS
// thread. On Linux the process gets SIGKILL when the thread that started it
// exits (Pdeathsig), so the thread must live as long as the process.
func (p *process) run() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return <-started
}

// waitReady polls PING until it answers or the process exits.
func (s *Server) waitReady(p *process) error {
	c := redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  250 * time.Millisecond,
		WriteTimeout: 250 * time.Millisecond,
		MaxRetries:   -1,
		PoolSize:     1,
	})
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			// Another redis-server may have the port (a test run beside
			// this one): it answers only if it is ours.
			if err = ownServer(ctx, c, p.cmd.Process.Pid); err == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("no answer to PING on %s after %v: %w", s.Addr(), readyTimeout, err)
		case <-tick.C:
		}
	}
}

// ownServer checks that the server c reaches is the process pid.
func ownServer(ctx context.Context, c *redis.Client, pid int) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(pid) + "\r\n"
	if !strings.Contains(info, want) {
		return fmt.Errorf("another redis-server answers on the port (not pid %d)", pid)
	}
	return nil
}

// stop kills the process group of the running server, if any, and waits for
// the process to exit.
func (s *Server) stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	// SIGKILL also ends a process stopped by Pause.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

// unavailable skips the test, or fails it when CI=true, because a required
// program is missing.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (required when CI=true)")
		return
	}
	t.Skip(msg)
}
