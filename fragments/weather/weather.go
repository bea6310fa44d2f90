package weather

import (
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
const Name = "weather"

// Version is the service's semantic version, sent as X-Fragment-Version.
const Version = "2.1.0"

// Views accepted in the view query parameter.
const (
	ViewWidget = "widget"
	ViewFull   = "full"
	ViewMini   = "mini"
)

// widgetDays is how many forecast days the widget shows.
const widgetDays = 3

//go:embed data/cities.json
var citiesJSON []byte

// stylesheet is the fragment's own CSS, served under a content-hashed
// name and linked from every answer.
//
//go:embed weather.css
var stylesheet []byte

// Config configures the weather service.
type Config struct {
	// Token is the bearer token callers must present. Required.
	Token string
	// MaxAge is the snippet's Cache-Control max-age.
	MaxAge time.Duration
	// StaleWhileRevalidate is the snippet's stale-while-revalidate window.
	StaleWhileRevalidate time.Duration
	// DefaultCity is the slug shown when the request names no known city.
	DefaultCity string
	// PageURL is the page with the full forecast, linked from the widget.
	PageURL string
}

// DefaultConfig returns the configuration the service runs with unless
// told otherwise. Token is left empty: it is a secret.
func DefaultConfig() Config {
	return Config{
		MaxAge:               60 * time.Second,
		StaleWhileRevalidate: 120 * time.Second,
		DefaultCity:          "london",
		PageURL:              "/weather",
	}
}

// City is a city's observation and forecast.
type City struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Country  string `json:"country"`
	Timezone string `json:"timezone"`
	// UTCOffsetMin is the city's offset from UTC at the time observed, so
	// that local times need no time zone database.
	UTCOffsetMin int        `json:"utc_offset_min"`
	Observed     time.Time  `json:"observed"`
	Current      Conditions `json:"current"`
	Sunrise      string     `json:"sunrise"`
	Sunset       string     `json:"sunset"`
	Forecast     []Day      `json:"forecast"`
}

// Conditions are the current conditions in a city.
type Conditions struct {
	Code         string  `json:"code"`
	Summary      string  `json:"summary"`
	TempC        int     `json:"temp_c"`
	FeelsLikeC   int     `json:"feels_like_c"`
	Humidity     int     `json:"humidity"`
	WindKPH      int     `json:"wind_kph"`
	WindDir      string  `json:"wind_dir"`
	PressureHPA  int     `json:"pressure_hpa"`
	UVIndex      int     `json:"uv_index"`
	VisibilityKM float64 `json:"visibility_km"`
	PrecipMM     float64 `json:"precip_mm"`
}

// Day is one day of a forecast.
type Day struct {
	Date      string `json:"date"`
	Code      string `json:"code"`
	Summary   string `json:"summary"`
	HighC     int    `json:"high_c"`
	LowC      int    `json:"low_c"`
	PrecipPct int    `json:"precip_pct"`
	WindKPH   int    `json:"wind_kph"`
}

// Cities returns the shipped cities in display order.
func Cities() ([]City, error) {
	var data struct {
		Cities []City `json:"cities"`
	}
	if err := json.Unmarshal(citiesJSON, &data); err != nil {
		return nil, fmt.Errorf("weather: decode cities: %w", err)
	}
	for _, c := range data.Cities {
		if c.Slug == "" || c.Name == "" || len(c.Forecast) < widgetDays {
			return nil, fmt.Errorf("weather: city %q is incomplete", c.Slug)
		}
		if !knownCode(c.Current.Code) {
			return nil, fmt.Errorf("weather: city %q: unknown condition %q", c.Slug, c.Current.Code)
		}
		for _, d := range c.Forecast {
			if _, err := time.Parse(time.DateOnly, d.Date); err != nil || !knownCode(d.Code) {
				return nil, fmt.Errorf("weather: city %q: bad forecast day %q", c.Slug, d.Date)
			}
		}
	}
	return data.Cities, nil
}

// New returns the weather fragment service.
func New(cfg Config, log *slog.Logger) (*fragment.Server, error) {
	if cfg.Token == "" {
		return nil, fmt.Errorf("weather: no bearer token configured")
	}
	cities, err := Cities()
	if err != nil {
		return nil, err
	}
	h := &handler{cfg: cfg, cities: cities, bySlug: make(map[string]*City, len(cities))}
	for i := range cities {
		h.bySlug[cities[i].Slug] = &cities[i]
	}
	if _, ok := h.bySlug[cfg.DefaultCity]; !ok {
		return nil, fmt.Errorf("weather: default city %q is not in the data", cfg.DefaultCity)
	}
	for i := range cities {
		h.options = append(h.options, option{Slug: cities[i].Slug, Name: cities[i].Name})
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return fragment.New(fragment.Config{
		Name:                 Name,
		Version:              Version,
		MaxAge:               cfg.MaxAge,
		StaleWhileRevalidate: cfg.StaleWhileRevalidate,
		Auth:                 fragment.BearerAuth(cfg.Token),
		Assets:               []fragment.Asset{fragment.CSS("weather.css", stylesheet)},
	}, log.With("component", Name), h.snippet)
}

type handler struct {
	cfg     Config
	cities  []City
	bySlug  map[string]*City
	options []option
}

type option struct{ Slug, Name string }

// lookup returns the city for a slug, or the default city. The raw input is
// used only as a map key; nothing of it reaches the output.
func (h *handler) lookup(raw []byte) *City {
	if len(raw) > 0 && len(raw) <= 40 {
		if c, ok := h.bySlug[strings.ToLower(strings.TrimSpace(string(raw)))]; ok {
			return c
		}
	}
	return h.bySlug[h.cfg.DefaultCity]
}

func (h *handler) snippet(ctx *fasthttp.RequestCtx) (templ.Component, error) {
	args := ctx.QueryArgs()
	c := h.lookup(args.Peek("city"))
	v := view{City: c, Options: h.options, PageURL: h.cfg.PageURL + "?city=" + c.Slug}
	switch string(args.Peek("view")) {
	case ViewFull:
		v.View, v.Days = ViewFull, days(c.Forecast)
		return fullView(v), nil
	case ViewMini:
		v.View = ViewMini
		return miniView(v), nil
	default:
		v.View, v.Days = ViewWidget, days(c.Forecast[:widgetDays])
		return widgetView(v), nil
	}
}

// view is what a template needs for one city.
type view struct {
	View    string
	City    *City
	Days    []dayView
	Options []option
	PageURL string
}

func (v view) id(part string) string { return "frag-weather-" + v.View + "-" + part }

type dayView struct {
	Day
	Label    string
	Datetime string
}

func days(ds []Day) []dayView {
	out := make([]dayView, len(ds))
	for i, d := range ds {
		out[i] = dayView{Day: d, Datetime: d.Date, Label: "Today"}
		if i > 0 {
			t, _ := time.Parse(time.DateOnly, d.Date)
			out[i].Label = t.Format("Mon")
		}
	}
	return out
}

// temp formats a temperature with a true minus sign.
func temp(c int) string {
	if c < 0 {
		return "\u2212" + strconv.Itoa(-c) + "°"
	}
	return strconv.Itoa(c) + "°"
}

func fahrenheit(c int) string {
	f := float64(c)*9/5 + 32
	if f < 0 {
		return "\u2212" + strconv.Itoa(int(-f+0.5)) + "°F"
	}
	return strconv.Itoa(int(f+0.5)) + "°F"
}

func observedAt(c *City) string {
	return c.Observed.In(time.FixedZone(c.Timezone, c.UTCOffsetMin*60)).Format("15:04")
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
