package rawconn

import (
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write make their system calls
// directly (see the package comment); everything else is its
// net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc   syscall.RawConn
	r, w op
}

// op is one direction's system call, set up once so that a call
// allocates nothing: the buffer and the outcome pass through it, under
// its lock.
type op struct {
	mu    sync.Mutex
	trap  uintptr
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// do makes the call; false when the socket is not ready, so that the
// netpoller waits for it.
func (o *op) do(fd uintptr) bool {
	o.n, o.errno = call(o.trap, fd, o.p)
	return o.errno != syscall.EAGAIN
}

// result is the outcome of o's call on o.p, once the RawConn's Read or
// Write has returned err (which, when set, means do may not have run, so
// n and errno count only without it). It lets go of the buffer. The
// RawConn names its own failures "raw-read" or "raw-write" in a
// *net.OpError; only what is inside is kept, for Conn to name once.
func (o *op) result(err error) (int, error) {
	o.p = nil
	if err != nil {
		if raw, ok := err.(*net.OpError); ok {
			err = raw.Err
		}
		return 0, err
	}
	if o.errno != 0 {
		return 0, o.errno
	}
	return o.n, nil
}

// Wrap returns c as a *Conn when it is a *net.TCPConn, and c itself
// otherwise.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{TCPConn: tc, rc: rc}
	w.r.trap, w.r.fn = syscall.SYS_READ, w.r.do
	w.w.trap, w.w.fn = syscall.SYS_WRITE, w.w.do
	return w
}

// Read reads what the socket holds, waiting in the netpoller, up to the
// read deadline, when it holds nothing.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.r.mu.Lock()
	c.r.p = p
	n, err := c.r.result(c.rc.Read(c.r.fn))
	c.r.mu.Unlock()
	if err != nil {
		return 0, c.opError("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting in the netpoller, up to the write
// deadline, whenever the socket's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	done := 0
	for done < len(p) {
		c.w.p = p[done:]
		n, err := c.w.result(c.rc.Write(c.w.fn))
		if err != nil {
			return done, c.opError("write", err)
		}
		done += n
	}
	return done, nil
}

// call is one read or write of p on fd, made again when a signal
// interrupts it.
func call(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}

// opError is err as a net.TCPConn reports it.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
