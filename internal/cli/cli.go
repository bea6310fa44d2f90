package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ErrUsage marks a command line that could not be understood; the usage
// was printed. A main may exit with status 2 for it.
var ErrUsage = errors.New("bad command line")

// usageError says what was wrong with a command line; Run prints it, then
// the usage of the command it was meant for.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// Handles reports whether arg (the first argument of the tessera binary)
// names one of the commands Run serves.
func Handles(arg string) bool {
	switch arg {
	case "ttl", "purge", "check", "config", "help":
		return true
	}
	return false
}

// env is what every command gets.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Run runs the command in args (without the program name), e.g.
// ["ttl", "set", "weather", "30s"]. It writes results to stdout and usage
// to stderr, and returns an error for the caller to print and exit non-zero
// with; "--help" prints the command's usage to stdout and returns nil.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv}
	err := e.run(args)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "tessera: %s\n\n%s", ue.msg, ue.usage)
	}
	return err
}

func (e *env) run(args []string) error {
	if len(args) == 0 {
		return &usageError{"no command given", usageTop}
	}
	switch args[0] {
	case "ttl":
		return e.ttl(args[1:])
	case "purge":
		return e.purge(args[1:])
	case "check":
		return e.check(args[1:])
	case "config":
		return e.config(args[1:])
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			return e.help(args[1:])
		}
		fmt.Fprint(e.stdout, usageTop)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q", args[0]), usageTop}
}

// help prints the usage of the command named in args ("tessera help ttl
// set").
func (e *env) help(args []string) error {
	if !Handles(args[0]) || args[0] == "help" {
		return &usageError{fmt.Sprintf("help: unknown command %q", args[0]), usageTop}
	}
	return e.run(append(args, "--help"))
}

const usageTop = `Usage: tessera COMMAND [ARGS]

Operator commands:
  ttl list                              show every fragment's cache settings and counters
  ttl set NAME DURATION [--swr D] [--sie D]
                                        change a fragment's TTL at run time
  ttl clear NAME                        drop the run-time TTL: the config applies again
  purge NAME                            drop every cached copy of a fragment
  check [FILE]                          validate a composer config (default tessera.yaml)
  config                                print the built-in config, to start a tessera.yaml
  new fragment NAME [--auth none|bearer|hmac]
                                        scaffold a new fragment service

Without a command, tessera runs the whole site (composer and fragments).

Run "tessera COMMAND --help" for more.
`

// command is one leaf command: its flags, usage text and positional
// argument count.
type command struct {
	name    string // e.g. "ttl set"
	args    string // e.g. "NAME DURATION"
	about   string
	minArgs int
	maxArgs int
	fs      *flag.FlagSet
}

func newCommand(name, args, about string, minArgs, maxArgs int) *command {
	fs := flag.NewFlagSet("tessera "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, args: args, about: about, minArgs: minArgs, maxArgs: maxArgs, fs: fs}
}

// parse reads flags anywhere among the arguments ("set NAME 30s --swr 1m"
// as well as "set --swr 1m NAME 30s") and returns the positional ones. A
// nil slice and nil error mean help was printed.
func (c *command) parse(e *env, args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(e.stdout)
				return nil, nil
			}
			return nil, &usageError{c.flagProblem(err), c.usageText()}
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		want := c.args
		if want == "" {
			want = "no arguments"
		}
		msg := fmt.Sprintf("%s: want %s, got %d argument(s)", c.name, want, len(pos))
		if len(pos) > c.maxArgs {
			msg = fmt.Sprintf("%s: unexpected argument %q (want %s)", c.name, pos[c.maxArgs], want)
		}
		return nil, &usageError{msg, c.usageText()}
	}
	if pos == nil {
		pos = []string{}
	}
	return pos, nil
}

// flagProblem says what was wrong with a flag; a negative duration, which
// the flag package takes for a flag, is named as such.
func (c *command) flagProblem(err error) string {
	const undefined = "flag provided but not defined: "
	if name, ok := strings.CutPrefix(err.Error(), undefined); ok {
		if d, derr := time.ParseDuration(name); derr == nil && d < 0 {
			return fmt.Sprintf("%s: %s is negative; a duration is 0s or more (e.g. 30s, 5m)", c.name, name)
		}
		return fmt.Sprintf("%s: unknown flag -%s", c.name, name) // the flag package drops one dash
	}
	return fmt.Sprintf("%s: %v", c.name, err)
}

func (c *command) usageText() string {
	var b strings.Builder
	c.usage(&b)
	return b.String()
}

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: tessera %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	hasFlags := false
	c.fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, " [flags]")
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(c.about))
	if !hasFlags {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c.fs.VisitAll(func(f *flag.Flag) {
		kind, help := flag.UnquoteUsage(f)
		if kind != "" {
			kind = " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
			help += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, kind, help)
	})
	_ = tw.Flush()
}

// remote holds the flags of the commands that call a composer.
type remote struct {
	url     string
	timeout time.Duration
}

func (r *remote) register(c *command, e *env) {
	def := e.getenv("TESSERA_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	c.fs.StringVar(&r.url, "url", def, "the composer's `URL` ($TESSERA_URL)")
	c.fs.DurationVar(&r.timeout, "timeout", 5*time.Second, "give up on the composer after this `duration`")
	c.about += `

The token for the composer's admin API is read from $TESSERA_ADMIN_TOKEN.
A composer started without one answers only on its own host.`
}

func (r *remote) client(e *env) (*client, error) {
	return newClient(r.url, e.getenv("TESSERA_ADMIN_TOKEN"), r.timeout)
}
