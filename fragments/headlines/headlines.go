package headlines

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/fragments/fragment"
)

// Name is the fragment's name: its data-fragment attribute.
const Name = "headlines"

// Version is the service's semantic version, sent as X-Fragment-Version.
const Version = "1.4.0"

// Views accepted in the view query parameter.
const (
	ViewHero    = "hero"
	ViewList    = "list"
	ViewTicker  = "ticker"
	ViewArticle = "article"
)

// secondaryCount is how many stories the hero view shows beside the lead.
const secondaryCount = 4

//go:embed data/headlines.json
var feedJSON []byte

// movedJSON maps the old slugs of stories that moved to their slugs now.
//
//go:embed data/moved.json
var movedJSON []byte

// stylesheet is the fragment's own CSS, served under a content-hashed
// name and linked from every answer.
//
//go:embed headlines.css
var stylesheet []byte

// Config configures the headlines service.
type Config struct {
	// MaxAge is the snippet's Cache-Control max-age.
	MaxAge time.Duration
	// StaleWhileRevalidate is the snippet's stale-while-revalidate window.
	StaleWhileRevalidate time.Duration
	// ArticleBase prefixes a story's slug to make its link.
	ArticleBase string
	// Location is the time zone in which times are shown.
	Location *time.Location
}

// DefaultConfig returns the configuration the service runs with unless
// told otherwise.
func DefaultConfig() Config {
	return Config{
		MaxAge:               30 * time.Second,
		StaleWhileRevalidate: 60 * time.Second,
		ArticleBase:          "/news/",
		Location:             time.UTC,
	}
}

// Story is one headline.
type Story struct {
	Slug       string    `json:"slug"`
	Title      string    `json:"title"`
	Standfirst string    `json:"standfirst"`
	Section    string    `json:"section"`
	Author     string    `json:"author"`
	Published  time.Time `json:"published"`
}

// Stories returns the shipped feed, newest first.
func Stories() ([]Story, error) {
	var feed []Story
	if err := json.Unmarshal(feedJSON, &feed); err != nil {
		return nil, fmt.Errorf("headlines: decode feed: %w", err)
	}
	for i, s := range feed {
		if s.Slug == "" || s.Title == "" || s.Section == "" || s.Published.IsZero() {
			return nil, fmt.Errorf("headlines: story %d is incomplete", i)
		}
	}
	sort.SliceStable(feed, func(i, j int) bool { return feed[i].Published.After(feed[j].Published) })
	return feed, nil
}

// Moved returns the shipped redirects: the old slug of each story that
// moved, mapped to its slug now. Every target is a story of the feed.
func Moved() (map[string]string, error) {
	feed, err := Stories()
	if err != nil {
		return nil, err
	}
	return moved(feed, movedJSON)
}

// moved reads raw, a JSON object of old slug to slug now, and checks it
// against the feed.
func moved(feed []Story, raw []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("headlines: decode moved stories: %w", err)
	}
	live := make(map[string]bool, len(feed))
	for _, s := range feed {
		live[s.Slug] = true
	}
	for from, to := range m {
		switch {
		case live[from]:
			return nil, fmt.Errorf("headlines: moved story %q is still in the feed: remove it from data/moved.json", from)
		case !live[to]:
			return nil, fmt.Errorf("headlines: moved story %q points to %q, which is not in the feed", from, to)
		}
	}
	return m, nil
}

// New returns the headlines fragment service.
func New(cfg Config, log *slog.Logger) (*fragment.Server, error) {
	feed, err := Stories()
	if err != nil {
		return nil, err
	}
	movedTo, err := moved(feed, movedJSON)
	if err != nil {
		return nil, err
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg, feed: feed, moved: movedTo}
	return fragment.New(fragment.Config{
		Name:                 Name,
		Version:              Version,
		MaxAge:               cfg.MaxAge,
		StaleWhileRevalidate: cfg.StaleWhileRevalidate,
		Auth:                 fragment.NoAuth(),
		Assets:               []fragment.Asset{fragment.CSS("headlines.css", stylesheet)},
	}, log.With("component", Name), h.snippet)
}

type handler struct {
	cfg   Config
	feed  []Story
	moved map[string]string
}

// item is a story prepared for display.
type item struct {
	Story
	Href       string
	SectionKey string
	When       string
	Datetime   string
}

func (h *handler) item(s Story) item {
	t := s.Published.In(h.cfg.Location)
	return item{
		Story:      s,
		Href:       h.cfg.ArticleBase + s.Slug,
		SectionKey: strings.ToLower(s.Section),
		When:       t.Format("2 Jan, 15:04"),
		Datetime:   t.Format(time.RFC3339),
	}
}

func (h *handler) snippet(ctx *fasthttp.RequestCtx) (templ.Component, error) {
	args := ctx.QueryArgs()
	switch string(args.Peek("view")) {
	case ViewArticle:
		slug := string(args.Peek("story"))
		for _, st := range h.feed {
			if st.Slug == slug {
				it := h.item(st)
				fragment.SetHead(ctx, fragment.Head{Title: st.Title, Description: st.Standfirst, Canonical: it.Href})
				return articleView(it, st.Standfirst, false), nil
			}
		}
		if to, ok := h.moved[slug]; ok {
			return nil, fragment.Redirect(fasthttp.StatusMovedPermanently, h.cfg.ArticleBase+to)
		}
		return nil, fragment.NotFound(articleView(item{}, "", true))
	case ViewTicker:
		n := min(len(h.feed), 3)
		items := make([]item, n)
		for i := range items {
			items[i] = h.item(h.feed[i])
		}
		return tickerView(items), nil
	case ViewList:
		n := len(h.feed)
		if v, err := strconv.Atoi(string(args.Peek("limit"))); err == nil && v > 0 && v < n {
			n = v
		}
		items := make([]item, n)
		for i := range items {
			items[i] = h.item(h.feed[i])
		}
		return listView(items), nil
	default:
		n := min(len(h.feed), 1+secondaryCount)
		items := make([]item, n)
		for i := range items {
			items[i] = h.item(h.feed[i])
		}
		return heroView(items[0], items[1:]), nil
	}
}
