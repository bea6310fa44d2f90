// Package nginxtest runs a real nginx as a round-robin load balancer for
// tests, on a free loopback port, with retries off: a request that the
// chosen upstream fails is the client's failure, as behind a strict
// balancer. Tests change the upstream list the way an orchestrator would
// (readiness says who is in) with SetUpstreams.
//
// Without the nginx binary, Start skips the test with a message that says
// how to install it; with CI=true it fails the test instead.
package nginxtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds how long Start and SetUpstreams wait for nginx.
const waitTimeout = 30 * time.Second

// Nginx is an nginx master process owned by one test.
type Nginx struct {
	t    testing.TB
	dir  string
	port int

	mu   sync.Mutex
	gen  int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs nginx balancing over upstreams (host:port each) and waits
// until it serves the first configuration. It is stopped when t ends.
func Start(t testing.TB, upstreams []string) *Nginx {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		unavailable(t, "nginx not installed: apt-get install nginx")
		return nil
	}
	n := &Nginx{t: t, dir: t.TempDir()}
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nginxtest: find a free port: %v", err)
	}
	n.port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	if err := n.write(upstreams); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "-p", n.dir, "-c", filepath.Join(n.dir, "nginx.conf"), "-e", filepath.Join(n.dir, "logs", "error.log"))
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	n.done = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("nginxtest: start %s: %v", bin, err)
	}
	go func() {
		defer close(n.done)
		defer func() { _ = recover() }()
		_ = n.cmd.Wait()
	}()
	t.Cleanup(n.stop)
	n.waitGen(0)
	return n
}

// URL is the balancer's base URL.
func (n *Nginx) URL() string { return "http://" + n.Addr() }

// Addr is the balancer's host:port.
func (n *Nginx) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// SetUpstreams replaces the upstream list and waits until new connections
// are served by the new configuration. Requests already with an old worker
// finish there (nginx's graceful reload).
func (n *Nginx) SetUpstreams(upstreams []string) {
	n.t.Helper()
	n.mu.Lock()
	n.gen++
	gen := n.gen
	n.mu.Unlock()
	if err := n.write(upstreams); err != nil {
		n.t.Fatal(err)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		n.t.Fatalf("nginxtest: reload: %v", err)
	}
	n.waitGen(gen)
}

func (n *Nginx) write(upstreams []string) error {
	if len(upstreams) == 0 {
		return errors.New("nginxtest: no upstreams")
	}
	n.mu.Lock()
	gen := n.gen
	n.mu.Unlock()
	var b strings.Builder
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot read the test's
		// temporary directory.
		user = "user root;\n"
	}
	fmt.Fprintf(&b, `%sdaemon off;
master_process on;
worker_processes 1;
pid %[2]s/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[2]s/tmp/body;
  proxy_temp_path %[2]s/tmp/proxy;
  fastcgi_temp_path %[2]s/tmp/fastcgi;
  uwsgi_temp_path %[2]s/tmp/uwsgi;
  scgi_temp_path %[2]s/tmp/scgi;
  upstream composers {
`, user, n.dir)
	for _, u := range upstreams {
		// max_fails=0: no passive health marking; every failure reaches
		// the client.
		fmt.Fprintf(&b, "    server %s max_fails=0;\n", u)
	}
	fmt.Fprintf(&b, `    keepalive 16;
  }
  server {
    listen 127.0.0.1:%d;
    location = /_nginxtest/generation { return 200 "%d"; }
    location / {
      proxy_pass http://composers;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
    }
  }
}
`, n.port, gen)
	return os.WriteFile(filepath.Join(n.dir, "nginx.conf"), []byte(b.String()), 0o644)
}

// waitGen polls, on fresh connections, until nginx serves generation gen.
func (n *Nginx) waitGen(gen int) {
	n.t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	want := strconv.Itoa(gen)
	deadline := time.Now().Add(waitTimeout)
	var last string
	for {
		resp, err := c.Get(n.URL() + "/_nginxtest/generation")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(b) == want {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(n.dir, "logs", "error.log"))
			n.t.Fatalf("nginxtest: nginx exited\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(n.dir, "logs", "error.log"))
			n.t.Fatalf("nginxtest: nginx did not serve configuration %d within %v (last: %s)\n%s", gen, waitTimeout, last, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Nginx) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(msg + " (required when CI=true)")
		return
	}
	t.Skip(msg)
}
