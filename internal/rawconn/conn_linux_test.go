package rawconn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair is a wrapped client connection and the server's end of it, wrapped
// too, over real loopback TCP.
func pair(t *testing.T) (client, server *Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := Listener{Listener: ln}.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	cc, ok := Wrap(c).(*Conn)
	sc, ok2 := s.(*Conn)
	if !ok || !ok2 {
		t.Fatalf("Wrap and Accept gave %T and %T, want *Conn", Wrap(c), s)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	return cc, sc
}

func TestLargeTransferBothWays(t *testing.T) {
	c, s := pair(t)
	// Larger than any socket buffer: the writer meets a full buffer and
	// partial writes while the reader drains it in small reads.
	want := make([]byte, 8<<20)
	_, _ = rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 0, len(want))
	buf := make([]byte, 1500)
	for len(got) < len(want) {
		n, err := s.Read(buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read are not the bytes written")
	}
	// And back, the other way.
	if _, err := s.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil || string(buf[:2]) != "ok" {
		t.Fatalf("read back %q, %v", buf[:2], err)
	}
}

func TestReadAtEndIsEOF(t *testing.T) {
	c, s := pair(t)
	if _, err := s.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "last" {
		t.Fatalf("ReadFull = %q, %v; want \"last\", nil", got, err)
	}
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestEmptyReadAndWrite(t *testing.T) {
	c, _ := pair(t)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("Write(nil) = %d, %v", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout() && namedOnce(err)
}

// namedOnce reports whether err is one *net.OpError around the cause, as
// a net.TCPConn reports it, not one OpError inside another.
func namedOnce(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !errors.As(op.Err, new(*net.OpError))
}

func TestReadDeadline(t *testing.T) {
	c, s := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := c.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	// A new deadline and data: reads again.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("Read after the deadline moved = %d, %v", n, err)
	}
}

func TestWriteDeadlineWhenNobodyReads(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Write(make([]byte, 64<<20))
	if !isTimeout(err) {
		t.Fatalf("Write past its deadline: %v, want a timeout", err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("Write reported %d bytes written, want some but not all", n)
	}
}

func TestCloseEndsABlockedRead(t *testing.T) {
	c, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read park
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) || !namedOnce(err) {
			t.Fatalf("Read on a closed conn: %v, want net.ErrClosed in one *net.OpError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the blocked read")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on a closed conn: %v, want net.ErrClosed", err)
	}
}

func TestResetIsAnError(t *testing.T) {
	resetPair := func(t *testing.T) *Conn {
		c, s := pair(t)
		_ = s.SetLinger(0) // close with RST
		s.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	check := func(t *testing.T, n int, err error) {
		t.Helper()
		var op *net.OpError
		if n != 0 || !errors.As(err, &op) || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("after a reset: %d, %v; want 0 and ECONNRESET in a *net.OpError", n, err)
		}
	}
	t.Run("read", func(t *testing.T) {
		n, err := resetPair(t).Read(make([]byte, 8))
		check(t, n, err)
	})
	t.Run("write", func(t *testing.T) {
		c := resetPair(t)
		time.Sleep(20 * time.Millisecond) // let the RST arrive
		n, err := c.Write([]byte("x"))
		check(t, n, err)
	})
}

func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(pipe) = %T, want the pipe itself", got)
	}
}

func TestTLSOverWrappedConns(t *testing.T) {
	c, s := pair(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{"fragment.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	cli := tls.Client(c, &tls.Config{ServerName: "fragment.test", RootCAs: roots})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	want := make([]byte, 1<<20)
	_, _ = rand.Read(want)
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Write(want)
		errc <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(srv, got); err != nil {
		t.Fatalf("read over TLS: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write over TLS: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read over TLS are not the bytes written")
	}
}

func TestReadAndWriteAllocateNothing(t *testing.T) {
	c, s := pair(t)
	msg, buf := []byte("ping"), make([]byte, 16)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a write and a read allocate %.1f times, want 0", allocs)
	}
}
