package topbar

import (
	_ "embed"
	"log/slog"
	"time"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/fragments/fragment"
)

// Name is the fragment's name, and Version its semantic version.
const (
	Name    = "topbar"
	Version = "1.0.0"
)

// stylesheet is the bar's own CSS, served under a content-hashed name and
// linked from every answer.
//
//go:embed topbar.css
var stylesheet []byte

// Config configures the top-bar service.
type Config struct {
	// MaxAge is how long the bar's markup may be cached; it changes only
	// with a deploy (what fills its slots is cached on its own).
	MaxAge time.Duration
}

// DefaultConfig returns the defaults: markup cached for ten minutes.
func DefaultConfig() Config { return Config{MaxAge: 10 * time.Minute} }

// New returns the top-bar fragment service. It needs no auth: it serves
// only slot markers and its stylesheet.
func New(cfg Config, log *slog.Logger) (*fragment.Server, error) {
	return fragment.New(fragment.Config{
		Name:    Name,
		Version: Version,
		MaxAge:  cfg.MaxAge,
		Auth:    fragment.NoAuth(),
		Assets:  []fragment.Asset{fragment.CSS("topbar.css", stylesheet)},
	}, log, func(*fasthttp.RequestCtx) (templ.Component, error) {
		return bar(), nil
	})
}
