package scaffold

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ModulePath is the module a Tessera checkout declares in its go.mod.
const ModulePath = "github.com/tessera-dev/tessera"

// Auth kinds a scaffolded service can take.
const (
	AuthNone   = "none"
	AuthBearer = "bearer"
	AuthHMAC   = "hmac"
)

// firstPort is the lowest default port a scaffolded service gets: the one
// after the composer's.
const firstPort = 8081

var (
	// cmdAddrPattern finds a command's default listen port in its main.go.
	cmdAddrPattern = regexp.MustCompile(`(?:"addr",|Addr:)\s*":(\d{2,5})"`)
	// configPortPattern finds the ports of fragment URLs in the built-in
	// config.
	configPortPattern = regexp.MustCompile(`(?m)^\s*(?:url|listen):\s*["']?[^"'\s]*:(\d{2,5})\b`)
)

// NextPort returns the port after the highest one the checkout at root
// already uses: the default listen ports of cmd/*/main.go and the ports
// of the built-in config (composer/config/tessera.yaml). It is at least 8081.
func NextPort(root string) int {
	highest := firstPort - 1
	scan := func(file string, re *regexp.Regexp) {
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			if n, err := strconv.Atoi(string(m[1])); err == nil && n < 65535 && n > highest {
				highest = n
			}
		}
	}
	mains, _ := filepath.Glob(filepath.Join(root, "cmd", "*", "main.go"))
	for _, m := range mains {
		scan(m, cmdAddrPattern)
	}
	scan(filepath.Join(root, "composer", "config", "tessera.yaml"), configPortPattern)
	return highest + 1
}

// Options say what to scaffold.
type Options struct {
	// Name is the fragment's name, e.g. "top-picks".
	Name string
	// Dir is the root of the Tessera checkout; empty means ".".
	Dir string
	// Port is the service's default listen port; zero means the next one
	// the checkout does not use (see NextPort).
	Port int
	// Auth is how the composer authenticates to the service: "none" (the
	// default when empty), "bearer" or "hmac".
	Auth string
}

// File is one file of a scaffolded service.
type File struct {
	// Path is relative to the checkout's root, with forward slashes.
	Path string
	Data []byte
}

// Result describes a scaffolded service.
type Result struct {
	Name string
	// Package is the Go package identifier of fragments/Name.
	Package string
	// Dir is the checkout's root as given in Options.
	Dir  string
	Port int
	Auth string
	// EnvVar holds the service's secret; empty for auth "none".
	EnvVar string
	// Files are the files written, in the order written.
	Files []File
	// ConfigSnippet is the fragment's entry for the composer's config,
	// indented to paste under "fragments:".
	ConfigSnippet string
	// Slot is the marker that places the fragment in a layout.
	Slot string
}

// Fragment scaffolds the fragment service opts describes into a Tessera
// checkout. It writes nothing when it returns an error.
func Fragment(opts Options) (Result, error) {
	res, err := Plan(opts)
	if err != nil {
		return Result{}, err
	}
	if err := writeAll(res.Dir, res.Files); err != nil {
		return Result{}, err
	}
	return res, nil
}

// Plan checks opts against the checkout and renders every file in memory,
// without writing anything.
func Plan(opts Options) (Result, error) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if opts.Auth == "" {
		opts.Auth = AuthNone
	}
	switch opts.Auth {
	case AuthNone, AuthBearer, AuthHMAC:
	default:
		return Result{}, fmt.Errorf("auth %q is not one of none, bearer, hmac", opts.Auth)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return Result{}, fmt.Errorf("port %d is not between 1 and 65535", opts.Port)
	}
	if err := CheckName(opts.Name); err != nil {
		return Result{}, err
	}
	if err := checkCheckout(opts.Dir); err != nil {
		return Result{}, err
	}
	if opts.Port == 0 {
		opts.Port = NextPort(opts.Dir)
	}
	for _, dir := range []string{"fragments/" + opts.Name, "cmd/" + opts.Name} {
		if _, err := os.Lstat(filepath.Join(opts.Dir, filepath.FromSlash(dir))); err == nil {
			return Result{}, fmt.Errorf("%w %q: %s already exists", ErrInvalidName, opts.Name, dir)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Result{}, fmt.Errorf("scaffold: %w", err)
		}
	}
	files, err := render(newData(opts))
	if err != nil {
		return Result{}, err
	}
	return Result{
		Name:          opts.Name,
		Package:       PackageName(opts.Name),
		Dir:           opts.Dir,
		Port:          opts.Port,
		Auth:          opts.Auth,
		EnvVar:        EnvName(opts.Name, opts.Auth),
		Files:         files,
		ConfigSnippet: configSnippet(opts),
		Slot:          "<!--@slot:" + opts.Name + "-->",
	}, nil
}

// checkCheckout reports whether dir is the root of a Tessera checkout:
// its go.mod declares the module and it holds fragments/fragment.
func checkCheckout(dir string) error {
	notCheckout := func(why string) error {
		return fmt.Errorf("%s is not the root of a Tessera checkout (%s); run from the repository root or pass --dir", dir, why)
	}
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return notCheckout("no go.mod")
	}
	defer f.Close()
	module := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			module = strings.Trim(strings.TrimSpace(rest), `"`)
			break
		}
	}
	if module != ModulePath {
		return notCheckout(fmt.Sprintf("go.mod declares module %q, not %s", module, ModulePath))
	}
	if fi, err := os.Stat(filepath.Join(dir, "fragments", "fragment")); err != nil || !fi.IsDir() {
		return notCheckout("no fragments/fragment package")
	}
	return nil
}

// configSnippet is the fragment's entry in the composer's config.
func configSnippet(opts Options) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("  %s:\n", opts.Name)
	w("    url: http://127.0.0.1:%d/\n", opts.Port)
	w("    ttl: 30s                # how long a copy is fresh; unset: the service's Cache-Control\n")
	w("    timeout: 500ms          # give up on the service after this; the page does not wait longer\n")
	w("    fallback: '%s'\n", fallbackHTML(opts.Name))
	w("    # vary: [city]          # request inputs sent as query parameters and part of the cache key\n")
	w("    # forward_headers: [Accept-Language]\n")
	w("    # forward_cookies: [consent]\n")
	switch opts.Auth {
	case AuthNone:
		w("    auth: {kind: none}\n")
	default:
		w("    auth: {kind: %s, secret_env: %s}\n", opts.Auth, EnvName(opts.Name, opts.Auth))
	}
	return b.String()
}

func fallbackHTML(name string) string {
	return `<section class="frag-fallback" data-fragment="` + name + `"><p>` + title(name) + ` cannot be shown right now.</p></section>`
}

// title turns a name into a heading: "top-picks" is "Top picks".
func title(name string) string {
	t := strings.ReplaceAll(name, "-", " ")
	return strings.ToUpper(t[:1]) + t[1:]
}

// Commands are the shell commands that test and run a scaffolded service,
// from the checkout's root.
func (r Result) Commands() []string {
	pkgs := "./fragments/" + r.Name + "/ ./cmd/" + r.Name + "/"
	cmds := []string{"go test " + pkgs}
	run := "go run ./cmd/" + r.Name
	if r.EnvVar != "" {
		cmds = append(cmds, "export "+r.EnvVar+"=$(openssl rand -hex 32)   # the composer needs the same value")
	}
	return append(cmds, run+"   # serves on :"+strconv.Itoa(r.Port))
}

// Paths returns the paths of the files, relative to the checkout's root.
func (r Result) Paths() []string {
	ps := make([]string, len(r.Files))
	for i, f := range r.Files {
		ps[i] = f.Path
	}
	return ps
}

// writeFile writes one file; tests replace it to make writes fail.
var writeFile = writeAtomic

// writeAll creates fragments/NAME and cmd/NAME and writes files into them.
// On any error it removes what it created.
func writeAll(root string, files []File) (err error) {
	var created, written []string
	defer func() {
		if err == nil {
			return
		}
		for _, name := range written {
			_ = os.Remove(name)
		}
		for i := len(created) - 1; i >= 0; i-- {
			_ = os.RemoveAll(created[i])
		}
	}()
	for _, f := range files {
		// Create the file's folder and any missing parent, outermost first.
		var missing []string
		for dir := filepath.Join(root, filepath.FromSlash(path.Dir(f.Path))); ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				break
			}
			missing = append(missing, dir)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if err := os.Mkdir(missing[i], 0o755); err != nil {
				return fmt.Errorf("scaffold: %w", err)
			}
			created = append(created, missing[i])
		}
		name := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := writeFile(name, f.Data); err != nil {
			return fmt.Errorf("scaffold: write %s: %w", f.Path, err)
		}
		written = append(written, name)
	}
	return nil
}

// writeAtomic writes data to a temporary file beside name and renames it
// into place, refusing to replace a file that appeared meanwhile.
func writeAtomic(name string, data []byte) error {
	if _, err := os.Lstat(name); err == nil {
		return fmt.Errorf("%s: %w", name, fs.ErrExist)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
