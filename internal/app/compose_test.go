package app_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/nginxtest"
	"github.com/tessera-dev/tessera/internal/redistest"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Ports       []string          `yaml:"ports"`
		Expose      []string          `yaml:"expose"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Deploy      struct {
			Replicas string `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

var composeVar = regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`)

// expand applies compose's ${VAR:-default} with nothing set.
func expand(s string) string { return composeVar.ReplaceAllString(s, "$2") }

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// The compose topology: only the balancer owns a host port, N composers
// behind it, and the composer holds only the secrets it uses.
func TestComposeTopology(t *testing.T) {
	f := readCompose(t)
	for name, s := range f.Services {
		if len(s.Ports) > 0 && name != "balancer" {
			t.Errorf("service %s publishes host ports %v; only the balancer should", name, s.Ports)
		}
	}
	lb, ok := f.Services["balancer"]
	if !ok || !strings.HasPrefix(lb.Image, "nginx:") || len(lb.Ports) != 1 {
		t.Fatalf("balancer service = %+v, want nginx owning one host port", lb)
	}
	c := f.Services["composer"]
	if n, err := strconv.Atoi(expand(c.Deploy.Replicas)); err != nil || n < 2 {
		t.Errorf("composer replicas = %q, want two or more", c.Deploy.Replicas)
	}
	if _, ok := c.Environment[app.EnvShowsEditorToken]; ok {
		t.Errorf("the composer is given %s, which only the shows service needs", app.EnvShowsEditorToken)
	}
	for _, k := range []string{app.EnvWeatherToken, app.EnvShowsSecret} {
		owner := map[string]string{app.EnvWeatherToken: "weather", app.EnvShowsSecret: "shows"}[k]
		if c.Environment[k] == "" || c.Environment[k] != f.Services[owner].Environment[k] {
			t.Errorf("%s differs between the composer and %s", k, owner)
		}
	}
	// The balancer's own config must be one nginx accepts.
	conf, err := filepath.Abs(filepath.Join("..", "..", "deploy", "compose", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if nginx, err := exec.LookPath("nginx"); err == nil {
		dir := t.TempDir()
		if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput(); err != nil {
			t.Errorf("nginx -t %s: %v\n%s", conf, err, out)
		}
	}
}

// The same topology as processes on loopback: Redis, the fragments, the
// composers with the environment docker-compose.yml gives them (service
// names mapped to the test's addresses), behind nginx.
func TestComposeTopologyAsProcesses(t *testing.T) {
	f := readCompose(t)
	rs := redistest.Start(t)
	secrets := app.Secrets{
		WeatherToken:     expand(f.Services["weather"].Environment[app.EnvWeatherToken]),
		ShowsSecret:      expand(f.Services["shows"].Environment[app.EnvShowsSecret]),
		ShowsEditorToken: expand(f.Services["shows"].Environment[app.EnvShowsEditorToken]),
	}
	frags, err := app.StartFragments(app.FragmentsOptions{
		HeadlinesAddr: "127.0.0.1:0", WeatherAddr: "127.0.0.1:0", ShowsAddr: "127.0.0.1:0", TopbarAddr: "127.0.0.1:0",
		Secrets: secrets, ShowsStore: filepath.Join(t.TempDir(), "shows.jsonl"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frags.Close() })
	hosts := map[string]string{"redis://redis:6379/0": rs.URL()}
	for name := range frags.Addrs {
		hosts["http://"+name+":"+strings.TrimPrefix(f.Services[name].Expose[0], ":")+"/"] = frags.URL(name)
	}
	env := map[string]string{}
	for k, v := range f.Services["composer"].Environment {
		v = expand(v)
		if h, ok := hosts[v]; ok {
			v = h
		}
		env[k] = v
	}
	n, _ := strconv.Atoi(expand(f.Services["composer"].Deploy.Replicas))
	var addrs []string
	for range n {
		c, err := app.StartComposer(app.ComposerOptions{Addr: "127.0.0.1:0", Env: func(k string) string { return env[k] }, RedisURL: env["REDIS_URL"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		addrs = append(addrs, c.DisplayAddr())
	}
	lb := nginxtest.Start(t, addrs)
	for i := range 3 * n {
		resp, doc := getDoc(t, lb.URL()+"/")
		if resp.StatusCode != 200 {
			t.Fatalf("page %d through the balancer: %d", i, resp.StatusCode)
		}
		// Every fragment answered, none fell back: the secrets and URLs in
		// the compose file fit together.
		for _, name := range []string{"headlines", "weather", "shows", "topbar"} {
			if doc.Find(`[data-fragment="`+name+`"]`).Length() == 0 || doc.Find(`.frag-fallback[data-fragment="`+name+`"]`).Length() > 0 {
				t.Fatalf("page %d: fragment %s missing or fallen back", i, name)
			}
		}
	}
	if code, _, _ := fetch(http.DefaultClient, lb.URL()+"/readyz"); code != 200 {
		t.Fatalf("readyz through the balancer: %d", code)
	}
}
