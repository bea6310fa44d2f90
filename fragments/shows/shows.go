package shows

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/fragments/fragment"
)

// Name is the fragment's name: its data-fragment attribute.
const Name = "shows"

// Version is the service's semantic version, sent as X-Fragment-Version.
const Version = "1.2.0"

// Views accepted in the view query parameter.
const (
	ViewRow  = "row"
	ViewGrid = "grid"
)

// Bounds of the catalogue views.
const (
	RowSize  = 8
	MaxLimit = 50
)

//go:embed data/shows.json
var showsJSON []byte

// stylesheet is the fragment's own CSS, served under a content-hashed
// name and linked from every answer.
//
//go:embed shows.css
var stylesheet []byte

// Config configures the shows service.
type Config struct {
	// Secret is the HMAC key the composer signs requests with. Required.
	Secret []byte
	// ReplayWindow bounds the age of a signed request; zero means
	// fragment.DefaultReplayWindow.
	ReplayWindow time.Duration
	// EditorToken is the bearer token that POST /shows requires. Required.
	EditorToken string
	// StorePath is the JSON-lines file that keeps added shows. Empty keeps
	// them in memory only.
	StorePath string
	// MaxAdded bounds how many shows may be added.
	MaxAdded int
	// OnChange, when set, is called after a show has been added and stored,
	// before the 201 response is sent.
	OnChange func(ctx context.Context)
	// OnChangeTimeout bounds the context given to OnChange.
	OnChangeTimeout time.Duration
	// MaxAge is the snippet's Cache-Control max-age.
	MaxAge time.Duration
	// StaleWhileRevalidate is the snippet's stale-while-revalidate window.
	StaleWhileRevalidate time.Duration
	// PageURL is the page with the whole catalogue; cards link to
	// PageURL#show-<slug>.
	PageURL string
	// Now is the clock that dates added shows; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the configuration the service runs with unless
// told otherwise. Secret and EditorToken are left empty: they are secrets.
func DefaultConfig() Config {
	return Config{
		StorePath:            "tessera-data/shows-added.jsonl",
		MaxAdded:             1000,
		OnChangeTimeout:      5 * time.Second,
		MaxAge:               120 * time.Second,
		StaleWhileRevalidate: 300 * time.Second,
		PageURL:              "/shows",
	}
}

// Show is one show of the catalogue.
type Show struct {
	Slug     string    `json:"slug"`
	Title    string    `json:"title"`
	Genre    string    `json:"genre"`
	Year     int       `json:"year"`
	Episodes int       `json:"episodes"`
	Synopsis string    `json:"synopsis"`
	Added    time.Time `json:"added"`
	// Colors are the two brand colours of the show's artwork, as #rrggbb.
	Colors [2]string `json:"colors"`
}

// Catalogue returns the shipped catalogue, newest first.
func Catalogue() ([]Show, error) {
	var shows []Show
	if err := json.Unmarshal(showsJSON, &shows); err != nil {
		return nil, fmt.Errorf("shows: decode catalogue: %w", err)
	}
	for i, s := range shows {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("shows: catalogue entry %d: %w", i, err)
		}
	}
	sortNewestFirst(shows)
	return shows, nil
}

// New returns the shows fragment service. It loads the shows added
// earlier from cfg.StorePath.
func New(cfg Config, log *slog.Logger) (*fragment.Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, fmt.Errorf("shows: no hmac secret configured")
	}
	if cfg.EditorToken == "" {
		return nil, fmt.Errorf("shows: no editor token configured")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAdded <= 0 {
		cfg.MaxAdded = DefaultConfig().MaxAdded
	}
	if cfg.OnChangeTimeout <= 0 {
		cfg.OnChangeTimeout = DefaultConfig().OnChangeTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", Name)

	builtin, err := Catalogue()
	if err != nil {
		return nil, err
	}
	st := &store{path: cfg.StorePath}
	added, err := st.load(log)
	if err != nil {
		return nil, err
	}
	cat := newCatalogue(builtin, added, log)
	h := &handler{cfg: cfg, log: log, cat: cat, store: st}

	srv, err := fragment.New(fragment.Config{
		Name:                 Name,
		Version:              Version,
		MaxAge:               cfg.MaxAge,
		StaleWhileRevalidate: cfg.StaleWhileRevalidate,
		Auth:                 fragment.Auth{Mode: fragment.AuthHMAC, Secret: cfg.Secret, Window: cfg.ReplayWindow},
		Assets:               []fragment.Asset{fragment.CSS("shows.css", stylesheet)},
	}, log, h.snippet)
	if err != nil {
		return nil, err
	}
	srv.HandleJSON(fasthttp.MethodPost, "/shows", fragment.BearerAuth(cfg.EditorToken), h.add)
	return srv, nil
}

type handler struct {
	cfg   Config
	log   *slog.Logger
	cat   *catalogue
	store *store
}

func (h *handler) snippet(ctx *fasthttp.RequestCtx) (templ.Component, error) {
	args := ctx.QueryArgs()
	all := h.cat.snapshot()
	view, n := ViewRow, RowSize
	if string(args.Peek("view")) == ViewGrid {
		view, n = ViewGrid, MaxLimit
	}
	if raw := args.Peek("limit"); len(raw) > 0 {
		if v, err := strconv.Atoi(string(raw)); err == nil {
			n = min(max(v, 1), MaxLimit)
		}
	}
	cards := make([]card, 0, min(n, len(all)))
	for _, s := range all[:min(n, len(all))] {
		cards = append(cards, h.card(view, s))
	}
	if view == ViewGrid {
		return gridView(cards, len(all)), nil
	}
	return rowView(cards, h.cfg.PageURL), nil
}

// card is a show prepared for display.
type card struct {
	Show
	Href       string
	GradientID string
	Initials   string
	AddedLabel string
	AddedISO   string
	Meta       string
}

func (h *handler) card(view string, s Show) card {
	eps := strconv.Itoa(s.Episodes) + " episodes"
	if s.Episodes == 1 {
		eps = "1 episode"
	}
	return card{
		Show:       s,
		Href:       h.cfg.PageURL + "#show-" + s.Slug,
		GradientID: "shows-" + view[:1] + "-" + s.Slug,
		Initials:   initials(s.Title),
		AddedLabel: s.Added.UTC().Format("2 Jan 2006"),
		AddedISO:   s.Added.UTC().Format(time.DateOnly),
		Meta:       s.Genre + " · " + strconv.Itoa(s.Year) + " · " + eps,
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func upper(s string) string { return strings.ToUpper(s) }
