package scaffold

import (
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"strings"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// ErrInvalidName is wrapped by the errors [Fragment] returns for a name it
// refuses.
var ErrInvalidName = errors.New("invalid fragment name")

// namePattern is the shape of a fragment name: the protocol's one grammar.
var namePattern = protocol.NamePattern

// maxNameLen keeps names, package identifiers and environment variables
// short enough to type.
const maxNameLen = 31

// reserved are names that would collide with a part of Tessera or that the
// go command treats specially as a directory or package name.
var reserved = map[string]string{
	"fragment": "it is the package every fragment service is built on",
	"composer": "it is the composer",
	"tessera":  "it is the tessera command",
	"main":     "a package named main is a command, not a library",
	"init":     "init cannot be declared as a package",
	"internal": "the go command restricts imports of internal directories",
	"vendor":   "the go command treats vendor directories specially",
	"testdata": "the go command ignores testdata directories",
}

// PackageName returns the Go package identifier of a fragment name: the
// name without its dashes ("top-picks" is package toppicks).
func PackageName(name string) string { return strings.ReplaceAll(name, "-", "") }

// EnvName returns the environment variable that holds a fragment's secret
// for the given auth kind ("bearer": TESSERA_<NAME>_TOKEN, "hmac":
// TESSERA_<NAME>_SECRET), or "" for "none". NAME is upper-cased with
// dashes as underscores.
func EnvName(name, auth string) string {
	base := "TESSERA_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	switch auth {
	case AuthBearer:
		return base + "_TOKEN"
	case AuthHMAC:
		return base + "_SECRET"
	}
	return ""
}

// CheckName reports whether name can be a fragment's name, without looking
// at the file system or the generated code.
func CheckName(name string) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, fmt.Sprintf(format, args...))
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidName)
	case len(name) > maxNameLen:
		return refuse("longer than %d characters", maxNameLen)
	case strings.ContainsAny(name, `/\`):
		return refuse("a name cannot hold a path separator; it names one folder under fragments/ and cmd/")
	case strings.ContainsAny(name, ". \t\n"):
		return refuse("a name cannot hold dots or spaces%s", suggest(name))
	case strings.ToLower(name) != name:
		return refuse("use lowercase letters%s", suggest(name))
	case !namePattern.MatchString(name):
		return refuse("use lowercase letters, digits and single dashes, starting with a letter and not ending with a dash%s", suggest(name))
	}
	if why, ok := reserved[name]; ok {
		return refuse("the name is reserved: %s", why)
	}
	for _, id := range []string{name, PackageName(name)} {
		if token.IsKeyword(id) {
			return refuse("%q is a Go keyword and cannot be a package name", id)
		}
		if types.Universe.Lookup(id) != nil {
			return refuse("%q is a predeclared Go identifier; a package by that name would shadow it", id)
		}
	}
	return nil
}

// suggest returns ` (e.g. "top-picks")` with a valid name close to name,
// or "" when there is none.
func suggest(name string) string {
	s := strings.Map(func(r rune) rune {
		switch r {
		case '_', ' ', '.', '\t', '\n':
			return '-'
		}
		return r
	}, strings.ToLower(name))
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	s = strings.Trim(s, "-")
	if !namePattern.MatchString(s) || len(s) > maxNameLen {
		s = "top-picks"
	}
	return fmt.Sprintf(" (e.g. %q)", s)
}
