package scaffold

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ErrUsage marks a command line that could not be understood; the usage
// was printed to stderr.
var ErrUsage = errors.New("bad command line")

const usage = `Usage: tessera new fragment NAME [--dir ROOT] [--port N] [--auth none|bearer|hmac]

Writes a working fragment service into a Tessera checkout:
fragments/NAME (the package, its templ view and its tests) and cmd/NAME
(its command), then prints the composer config entry and the slot marker
that put it on a page. NAME is 1 to 31 lowercase letters, digits and
single dashes, starting with a letter; the Go package is NAME without its
dashes. Nothing is written when NAME is refused or already taken.

Flags:
  --dir ROOT     the checkout's root (default .)
  --port N       the service's default port (default: the one after the
                 highest port the checkout's commands and config use)
  --auth KIND    how the composer authenticates: none, bearer or hmac (default none)
`

// Run runs "tessera new" with args, the words after "new" (e.g.
// ["fragment", "top-picks", "--auth", "hmac"]). It prints what it wrote
// and what to do next to stdout; usage goes to stderr with an error that
// wraps ErrUsage, or to stdout for --help.
func Run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	bad := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(stderr, "%s\n\n%s", msg, usage)
		return fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	switch {
	case len(args) == 0:
		return bad("tessera new: say what to create (fragment)")
	case isHelp(args[0]):
		_, err := io.WriteString(stdout, usage)
		return err
	case args[0] != "fragment":
		return bad("tessera new: unknown kind %q (want fragment)", args[0])
	}
	fs := flag.NewFlagSet("tessera new fragment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts Options
	fs.StringVar(&opts.Dir, "dir", ".", "")
	fs.IntVar(&opts.Port, "port", 0, "")
	fs.StringVar(&opts.Auth, "auth", AuthNone, "")
	// Flags may come before or after NAME.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				_, err := io.WriteString(stdout, usage)
				return err
			}
			return bad("tessera new fragment: %v", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != 1 {
		return bad("tessera new fragment: want one NAME, got %d argument(s)", len(pos))
	}
	opts.Name = pos[0]
	res, err := Fragment(opts)
	if err != nil {
		return err
	}
	return res.Report(stdout)
}

func isHelp(s string) bool {
	switch s {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// Report prints what was written and the next steps: the tests and the
// command to run, the composer config entry, the slot marker.
func (r Result) Report(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	auth := "no credentials"
	switch r.Auth {
	case AuthBearer:
		auth = "a bearer token from " + r.EnvVar
	case AuthHMAC:
		auth = "HMAC-signed requests, key from " + r.EnvVar
	}
	p("Created fragment %q (Go package %s, auth: %s):\n", r.Name, r.Package, auth)
	for _, path := range r.Paths() {
		p("  %s\n", path)
	}
	p("\nTest and run it, from the checkout's root:\n")
	for _, c := range r.Commands() {
		p("  %s\n", c)
	}
	p("\nDeclare it in the composer config, under fragments:\n\n%s", r.ConfigSnippet)
	p("\nPlace it in a page layout:\n\n  %s\n", r.Slot)
	p("\nCheck the config with \"tessera check FILE\". A composer started with\n\"-config FILE\" picks the change up without a restart.\n")
	if r.EnvVar != "" {
		p("The composer reads %s from its own environment:\nset it before starting the composer.\n", r.EnvVar)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
