package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/tessera-dev/tessera/composer/upstream"
	"github.com/tessera-dev/tessera/internal/protocol"
)

// Config is the composer's declarative configuration: the fragments it can
// call, the request inputs they may vary by, and the pages built from them.
// It is read from YAML (see Parse); durations are Go duration strings.
type Config struct {
	// Listen is the composer's address, e.g. ":8080".
	Listen string `yaml:"listen"`
	// RedisURL selects the shared cache; empty means an in-process cache.
	RedisURL string `yaml:"redis_url"`
	// Debug adds per-fragment timings and cache outcomes to pages.
	Debug bool `yaml:"debug"`
	// NearCache keeps entries read from Redis in memory for this long
	// (default 1s; "0s" reads Redis on every page).
	NearCache string `yaml:"near_cache"`
	// Defaults apply to every fragment that leaves a field unset.
	Defaults FragmentConfig `yaml:"defaults"`
	// Inputs are the request values fragments may vary by, keyed by name.
	Inputs map[string]InputConfig `yaml:"inputs"`
	// Fragments are the fragment services, keyed by name.
	Fragments map[string]FragmentConfig `yaml:"fragments"`
	// Pages map routes to layouts.
	Pages []PageConfig `yaml:"pages"`
	// Limits bound what one page may grow to through nested fragments.
	Limits LimitsConfig `yaml:"limits"`
	// Admin configures the admin API and dashboard.
	Admin AdminConfig `yaml:"admin"`
	// Crawlers are User-Agent substrings (any case) of clients that get
	// every slot in document order; unset means DefaultCrawlers, [] none.
	Crawlers []string `yaml:"crawlers"`
	// RedirectHosts are the hosts (host or host:port) besides this site
	// that a primary fragment may redirect the page to.
	RedirectHosts []string `yaml:"redirect_hosts"`
	// EarlyHints is when a page starts with 103 Early Hints naming the
	// assets its fragments declared: auto (default) only to clients that
	// reached the composer directly — a request carrying Via, Forwarded or
	// X-Forwarded-For came through a proxy, and many proxies (nginx before
	// 1.29 among them) take a 103 for the answer; always; or never.
	EarlyHints string `yaml:"early_hints"`
	// CSP is the Content-Security-Policy of every page; {nonce} in it is
	// replaced by a nonce per page, which the composer's scripts (the
	// fragments' module scripts, the out-of-order patches) carry.
	CSP string `yaml:"csp"`
}

// AdminConfig configures access to the admin API and dashboard.
type AdminConfig struct {
	// Hosts are further names (host, or host:port) the composer is known
	// by; a request naming any other Host is refused, so that a DNS
	// rebinding page cannot reach the admin through a browser.
	Hosts []string `yaml:"hosts"`
}

// LimitsConfig bounds one page's nested composition; each unset field has
// a default no real page meets. A marker over a limit becomes the empty
// placeholder.
type LimitsConfig struct {
	// SlotsPerPage caps the slots of one page over all levels (default 64).
	SlotsPerPage int `yaml:"slots_per_page"`
	// MarkersPerAnswer caps the slot markers taken from one fragment
	// answer (default 16).
	MarkersPerAnswer int `yaml:"markers_per_answer"`
	// PageBytes caps the bytes of fragment markup on one page (default
	// 8 MiB).
	PageBytes int `yaml:"page_bytes"`
	// Depth caps nesting: a page's slot is level 1 (default 3, at most 8).
	Depth int `yaml:"depth"`
}

// InputConfig says where a request input is read from, in order: the query
// parameter, then the cookie, then Default. Values must match
// [A-Za-z0-9_.-]{1,64}; anything else counts as absent. A page path
// parameter ({story} in /news/{story}) is an input read from the path; it
// may be declared here for its Values alone, and a path whose value is not
// one of them matches no page (404).
type InputConfig struct {
	Query   string `yaml:"query"`
	Cookie  string `yaml:"cookie"`
	Default string `yaml:"default"`
	// Values, when set, lists the only values accepted; anything else is
	// absent. It keeps a request from making up cache keys at will.
	Values []string `yaml:"values"`
}

// Accepts reports whether v may be used for this input.
func (in InputConfig) Accepts(v []byte) bool {
	if !protocol.ValidValue(v) {
		return false
	}
	if len(in.Values) == 0 {
		return true
	}
	for _, ok := range in.Values {
		if ok == string(v) {
			return true
		}
	}
	return false
}

// FragmentConfig declares one fragment service.
type FragmentConfig struct {
	URL      string `yaml:"url"`
	TTL      string `yaml:"ttl"`
	SWR      string `yaml:"swr"`
	SIE      string `yaml:"sie"`
	Timeout  string `yaml:"timeout"`
	Fallback string `yaml:"fallback"`
	// Fallbacks are fallbacks for the slots that place the fragment with
	// a given view (view=mini), so that a degraded slot fits its place;
	// a slot with another view, or none, gets Fallback. An empty one
	// leaves the empty placeholder.
	Fallbacks map[string]string `yaml:"fallbacks"`
	Primary   *bool             `yaml:"primary"`
	// MaxBytes bounds the fragment's response body.
	MaxBytes int `yaml:"max_bytes"`
	// MaxKeys bounds the distinct cache keys the fragment stores per
	// window (its TTL and stale windows) when it varies by an input
	// without values (default 1000); past it, answers are served but not
	// cached.
	MaxKeys int `yaml:"max_keys"`
	// Vary lists the inputs the fragment's output depends on; they are sent
	// as query parameters and are part of the cache key.
	Vary           []string      `yaml:"vary"`
	ForwardHeaders []string      `yaml:"forward_headers"`
	ForwardCookies []string      `yaml:"forward_cookies"`
	Auth           AuthConfig    `yaml:"auth"`
	Breaker        BreakerConfig `yaml:"breaker"`
	// Version constrains the X-Fragment-Version the composer accepts
	// (semver range, e.g. "^1.2"); an answer outside it is not used.
	Version string `yaml:"version"`
	// Nest names the fragments this fragment's markup may place with slot
	// markers (default none).
	Nest []string `yaml:"nest"`
	// Params lists the slot parameters other fragments' markup may place
	// this fragment with, each with its accepted values (empty: any valid
	// value). Layouts are checked against it too when it is set.
	Params map[string][]string `yaml:"params"`
	// SetCookies lets the fragment's Set-Cookie reach the browser when it
	// fills a primary slot (default false: dropped). Such answers are
	// never cached nor shared.
	SetCookies *bool `yaml:"set_cookies"`
	// AssetsURL is a public base URL (a CDN mirroring the fragment
	// service) where pages link its assets instead of /_fragments/NAME.
	AssetsURL string `yaml:"assets_url"`
}

// BreakerConfig tunes a fragment's circuit breaker. It opens when, over the
// last Window, at least MinRequests fetches ended and at least FailureRate
// of them failed; the fragment is then skipped (served stale or fallback
// at once) for Cooldown, after which Probes requests are let through: all
// succeeding closes it, any failing opens it again.
type BreakerConfig struct {
	// MinRequests is the fewest finished fetches in the window before the
	// rate may open the circuit (default 10); 0 turns the breaker off.
	MinRequests *int `yaml:"min_requests"`
	// Failures is the older name of MinRequests.
	Failures *int `yaml:"failures"`
	// FailureRate is the share of failed fetches, over 0 and at most 1,
	// that opens the circuit (default 0.8).
	FailureRate *float64 `yaml:"failure_rate"`
	// Window is how far back fetches count (default 30s), in ten steps.
	Window   string `yaml:"window"`
	Probes   int    `yaml:"probes"`
	Cooldown string `yaml:"cooldown"`
}

// AuthConfig is how the composer authenticates to a fragment. Secrets are
// never part of the file: they are read from the named environment variable.
type AuthConfig struct {
	// Kind is "none", "bearer" or "hmac".
	Kind string `yaml:"kind"`
	// SecretEnv names the environment variable holding the token or key.
	SecretEnv string `yaml:"secret_env"`
}

// PageConfig maps a route to a layout.
type PageConfig struct {
	Path  string `yaml:"path"`
	Title string `yaml:"title"`
	// Layout is a built-in layout name or a path to an HTML file (relative to
	// the config file) with <!--@slot:NAME--> markers.
	Layout string `yaml:"layout"`
	// Stream is auto (default: stream when a fragment still out is
	// typically slow), always, or never (buffer the whole page).
	Stream string `yaml:"stream"`
	// Order is how the page's slots are delivered when it streams:
	// arrival (default for non-primary slots: each slot's place is sent
	// at once and its markup patched in when it arrives) or document.
	Order string `yaml:"order"`
}

// Built-in limits and defaults.
const (
	DefaultTimeout  = 1 * time.Second
	DefaultMaxBytes = 1 << 20
	// MaxTimeout is the longest a fragment's timeout may be.
	MaxTimeout = 60 * time.Second
	// MaxWindow is the longest a ttl, swr or sie may be.
	MaxWindow = 7 * 24 * time.Hour
)

// Error is one problem found in a config file, with the YAML path of the
// field and, where known, its line.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

var (
	namePattern  = protocol.NamePattern
	valuePattern = protocol.ValuePattern
)

// Parse reads a YAML config. file names the source in error messages.
// Unknown fields are errors, so that a typo does not silently change nothing.
// The returned config is not yet validated; call Compile.
func Parse(file string, data []byte) (*Config, error) {
	var cfg Config
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return nil, Errors{yamlError(file, err)}
	}
	return &cfg, nil
}

func yamlError(file string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		ce := &Error{File: file, Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			ce.Line = tk.Position.Line
		}
		return ce
	}
	return &Error{File: file, Msg: err.Error()}
}

// LoadFile reads and parses a config file.
func LoadFile(path string) (*Config, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(path, data)
	return cfg, data, err
}

// ApplyEnv overrides config values from the environment: REDIS_URL,
// TESSERA_LISTEN and TESSERA_FRAGMENT_<NAME>_URL (name upper-cased, '-' as '_').
func (c *Config) ApplyEnv(getenv func(string) string) {
	if v := getenv("REDIS_URL"); v != "" {
		c.RedisURL = v
	}
	if v := getenv("TESSERA_LISTEN"); v != "" {
		c.Listen = v
	}
	for name, f := range c.Fragments {
		if v := getenv(FragmentURLEnv(name)); v != "" {
			f.URL = v
			c.Fragments[name] = f
		}
	}
}

// FragmentURLEnv names the variable that overrides a fragment's url:
// TESSERA_FRAGMENT_<NAME>_URL, the name upper-cased with '-' as '_'.
func FragmentURLEnv(name string) string {
	return "TESSERA_FRAGMENT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_URL"
}

// lineFinder resolves YAML paths to line numbers in the source.
type lineFinder struct {
	file string
	src  []byte
}

func (lf lineFinder) line(path string) int {
	if len(lf.src) == 0 {
		return 0
	}
	f, err := parser.ParseBytes(lf.src, 0)
	if err != nil {
		return 0
	}
	p, err := yaml.PathString("$." + path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

type validator struct {
	lf   lineFinder
	errs Errors
}

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.lf.file, Line: v.lf.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

// addOnce adds a problem unless the same field already has one: a field of
// defaults is checked for every fragment but reported once.
func (v *validator) addOnce(path, format string, args ...any) {
	for _, e := range v.errs {
		if e.Field == path {
			return
		}
	}
	v.addf(path, format, args...)
}

func (v *validator) duration(path, s string, fallback, max time.Duration, allowZero bool) time.Duration {
	if s == "" {
		return fallback
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		v.addOnce(path, "%q is not a duration (use e.g. 500ms, 30s, 5m)", s)
		return fallback
	}
	switch {
	case d < 0:
		v.addOnce(path, "%q must not be negative", s)
		return fallback
	case d == 0 && !allowZero:
		v.addOnce(path, "%q must be more than zero", s)
		return fallback
	case d > max:
		v.addOnce(path, "%q is more than the limit of %s", s, max)
		return fallback
	}
	return d
}

// Compile validates a parsed config and turns it into the form the composer
// serves from. src is the file's text (for line numbers in errors; may be
// nil). Layout files are read relative to dir. Every problem is reported,
// not only the first.
func (c *Config) Compile(file string, src []byte, dir string, env func(string) string) (*Site, error) {
	v := &validator{lf: lineFinder{file: file, src: src}}
	site := &Site{
		Debug:     c.Debug,
		Fragments: make(map[string]*Fragment, len(c.Fragments)),
		Pages:     make(map[string]*Page, len(c.Pages)),
		crawlers:  compileCrawlers(c.Crawlers),
	}
	site.NearCache = v.duration("near_cache", c.NearCache, time.Second, time.Minute, true)
	switch c.EarlyHints {
	case "", "auto":
		site.EarlyHints = HintsDirect
	case "always":
		site.EarlyHints = HintsAlways
	case "never":
		site.EarlyHints = HintsNever
	default:
		v.addf("early_hints", "%q is not one of auto, always, never", c.EarlyHints)
	}
	redirectHosts := v.redirectHosts(c.RedirectHosts)
	if strings.ContainsAny(c.CSP, "\r\n") {
		v.addf("csp", "must be one line")
	} else {
		site.CSP = c.CSP
	}
	site.Limits = v.limits(c.Limits)
	for i, h := range c.Admin.Hosts {
		if h == "" || strings.ContainsAny(h, "/ \t@?#") {
			v.addf(fmt.Sprintf("admin.hosts[%d]", i), "%q is not a host name (use e.g. tessera.example.com or tessera.example.com:8080)", h)
			continue
		}
		site.AdminHosts = append(site.AdminHosts, h)
	}
	var inputs map[string]InputConfig
	site.Inputs, inputs = v.inputs(c)
	if len(c.Fragments) == 0 {
		v.addf("fragments", "at least one fragment is required")
	}
	for _, name := range sortedKeys(c.Fragments) {
		f := v.fragment(name, c.Fragments[name], c.Defaults, inputs, env)
		if f != nil {
			f.redirectHosts = redirectHosts
			site.Fragments[name] = f
		}
	}
	for _, name := range sortedKeys(c.Fragments) {
		for i, n := range c.Fragments[name].Nest {
			if _, ok := c.Fragments[n]; !ok {
				v.addf(fmt.Sprintf("fragments.%s.nest[%d]", name, i), "%q is not a declared fragment", n)
			}
		}
	}
	if len(c.Pages) == 0 {
		v.addf("pages", "at least one page is required")
	}
	for i, pc := range c.Pages {
		if p := v.page(fmt.Sprintf("pages[%d]", i), pc, c, site, dir); p != nil {
			if len(p.segments) > 0 {
				site.patterns = append(site.patterns, p)
			}
			site.Pages[pc.Path] = p
		}
	}
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
		return nil, v.errs
	}
	return site, nil
}

// pathParams are the names of the pages' path parameters ({story} in
// /news/{story}).
func pathParams(pages []PageConfig) map[string]bool {
	names := map[string]bool{}
	for _, pc := range pages {
		if _, params, err := parsePath(pc.Path); err == nil {
			for _, name := range params {
				names[name] = true
			}
		}
	}
	return names
}

// inputs checks the declared inputs. It returns them, and the inputs a
// fragment may vary by: those and the pages' path parameters.
func (v *validator) inputs(c *Config) (declared, all map[string]InputConfig) {
	params := pathParams(c.Pages)
	declared = make(map[string]InputConfig, len(c.Inputs))
	for _, name := range sortedKeys(c.Inputs) {
		in := c.Inputs[name]
		path := "inputs." + name
		if !namePattern.MatchString(name) {
			v.addf(path, "input name %q must match %s", name, namePattern)
		}
		if in.Query == "" && in.Cookie == "" && in.Default == "" && !params[name] {
			v.addf(path, "needs at least one of query, cookie or default")
		}
		if in.Default != "" && !valuePattern.MatchString(in.Default) {
			v.addf(path+".default", "%q must match %s", in.Default, valuePattern)
		}
		for i, val := range in.Values {
			if !valuePattern.MatchString(val) {
				v.addf(fmt.Sprintf("%s.values[%d]", path, i), "%q must match %s", val, valuePattern)
			}
		}
		if in.Default != "" && len(in.Values) > 0 && !in.Accepts([]byte(in.Default)) {
			v.addf(path+".default", "%q is not one of the values", in.Default)
		}
		declared[name] = in
	}
	all = make(map[string]InputConfig, len(c.Inputs)+len(params))
	for k, in := range c.Inputs {
		all[k] = in
	}
	for name := range params {
		if _, ok := all[name]; !ok {
			all[name] = InputConfig{}
		}
	}
	return declared, all
}

// page checks and compiles one page at path (pages[i]); nil when it has a
// problem, which is reported.
func (v *validator) page(path string, pc PageConfig, c *Config, site *Site, dir string) *Page {
	if pc.Path == "" || pc.Path[0] != '/' || strings.ContainsAny(pc.Path, "?# ") {
		v.addf(path+".path", "%q must be an absolute path without query", pc.Path)
		return nil
	}
	segs, params, err := parsePath(pc.Path)
	if err != nil {
		v.addf(path+".path", "%v", err)
		return nil
	}
	if _, dup := site.Pages[pc.Path]; dup {
		v.addf(path+".path", "%q is declared twice", pc.Path)
		return nil
	}
	if pc.Layout == "" {
		v.addf(path+".layout", "a layout is required")
		return nil
	}
	html, err := renderLayout(pc, dir)
	if err != nil {
		v.addf(path+".layout", "%v", err)
		return nil
	}
	p, err := compilePage(pc, html, site.Fragments)
	if unknown := (*unknownSlotError)(nil); errors.As(err, &unknown) {
		if _, declared := c.Fragments[unknown.name]; declared {
			// The fragment is declared but was refused: its own
			// problem is the root cause, reported already.
			return nil
		}
	}
	if err != nil {
		v.addf(path+".layout", "%v", err)
		return nil
	}
	if len(params) > 0 {
		for i := range segs {
			if segs[i].param != "" {
				segs[i].values = c.Inputs[segs[i].param].Values
			}
		}
		p.segments = segs
	}
	switch pc.Stream {
	case "", "auto":
	case "always":
		p.stream = StreamAlways
	case "never":
		p.stream = StreamNever
	default:
		v.addf(path+".stream", "%q is not one of auto, always, never", pc.Stream)
		return nil
	}
	if err := configureOrder(p, pc.Order); err != nil {
		v.addf(path+".order", "%v", err)
		return nil
	}
	p.compileContract(site)
	return p
}

// redirectHosts checks redirect_hosts and returns them lowercased.
func (v *validator) redirectHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for i, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/\\ \t@?#") {
			v.addf(fmt.Sprintf("redirect_hosts[%d]", i), "%q is not a host name (use e.g. shop.example.com or shop.example.com:8443)", h)
			continue
		}
		out = append(out, strings.ToLower(h))
	}
	return out
}

// assetsURL checks a fragment's assets_url: an absolute http(s) URL
// without query, kept without its trailing slash.
func (v *validator) assetsURL(path, s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		v.addf(path, "%q is not an http(s) URL without query (use e.g. https://cdn.example.com/headlines)", s)
		return ""
	}
	return strings.TrimSuffix(s, "/")
}

// Limits are a page's compiled budget for nested composition.
type Limits struct {
	SlotsPerPage, MarkersPerAnswer, PageBytes, Depth int
}

// Default limits: far above what a real page uses.
const (
	DefaultSlotsPerPage     = 64
	DefaultMarkersPerAnswer = 16
	DefaultPageBytes        = 8 << 20
	DefaultDepth            = 3
)

func (v *validator) limits(lc LimitsConfig) Limits {
	one := func(field string, n, def, hi int) int {
		switch {
		case n == 0:
			return def
		case n < 0 || n > hi:
			v.addf("limits."+field, "%d must be between 1 and %d", n, hi)
			return def
		}
		return n
	}
	return Limits{
		SlotsPerPage:     one("slots_per_page", lc.SlotsPerPage, DefaultSlotsPerPage, 4096),
		MarkersPerAnswer: one("markers_per_answer", lc.MarkersPerAnswer, DefaultMarkersPerAnswer, 1024),
		PageBytes:        one("page_bytes", lc.PageBytes, DefaultPageBytes, 256<<20),
		Depth:            one("depth", lc.Depth, DefaultDepth, 8),
	}
}

func (v *validator) fragment(name string, fc, def FragmentConfig, inputs map[string]InputConfig, env func(string) string) *Fragment {
	path := "fragments." + name
	nerr := len(v.errs)
	if !namePattern.MatchString(name) {
		v.addf(path, "fragment name %q must match %s", name, namePattern)
	}
	f := &Fragment{Name: name, Fallback: []byte(fc.Fallback)}
	f.URL, f.origin = v.fragmentURL(path+".url", fc.URL)
	f.AssetsURL = v.assetsURL(path+".assets_url", fc.AssetsURL)
	f.SetCookies = fc.SetCookies != nil && *fc.SetCookies || fc.SetCookies == nil && def.SetCookies != nil && *def.SetCookies
	// A field left unset takes the default's, whose problems are
	// reported once, against defaults, not against every fragment.
	d := func(field, own, def string, fallback, max time.Duration, allowZero bool) time.Duration {
		if own != "" {
			return v.duration(path+"."+field, own, fallback, max, allowZero)
		}
		return v.duration("defaults."+field, def, fallback, max, allowZero)
	}
	f.TTL = d("ttl", fc.TTL, def.TTL, 0, MaxWindow, true)
	f.TTLSet = fc.TTL != "" || def.TTL != ""
	f.SWR = d("swr", fc.SWR, def.SWR, 0, MaxWindow, true)
	f.SIE = d("sie", fc.SIE, def.SIE, 0, MaxWindow, true)
	f.Timeout = d("timeout", fc.Timeout, def.Timeout, DefaultTimeout, MaxTimeout, false)
	if fc.Primary != nil {
		f.Primary = *fc.Primary
	} else if def.Primary != nil {
		f.Primary = *def.Primary
	}
	field := path + ".max_bytes"
	f.MaxBytes = fc.MaxBytes
	if f.MaxBytes == 0 {
		f.MaxBytes, field = def.MaxBytes, "defaults.max_bytes"
	}
	switch {
	case f.MaxBytes == 0:
		f.MaxBytes = DefaultMaxBytes
	case f.MaxBytes < 0 || f.MaxBytes > 64<<20:
		v.addOnce(field, "%d must be between 1 and %d", f.MaxBytes, 64<<20)
	}
	for i, in := range fc.Vary {
		if _, ok := inputs[in]; !ok {
			v.addf(fmt.Sprintf("%s.vary[%d]", path, i), "%q is not a declared input", in)
		}
	}
	f.Vary = append([]string(nil), fc.Vary...)
	sort.Strings(f.Vary)
	f.MaxKeys = v.maxKeys(path, fc.MaxKeys, def.MaxKeys, f.Vary, inputs)
	f.ForwardHeaders = v.forwardHeaders(path, fc.ForwardHeaders, def.ForwardHeaders)
	f.ForwardCookies = v.forwardCookies(path, fc.ForwardCookies, def.ForwardCookies)
	if fc.Version != "" {
		c, err := semver.NewConstraint(fc.Version)
		if err != nil {
			v.addf(path+".version", "%q is not a semver range (e.g. ^1.2, ~2.0.1, >=1.0 <2)", fc.Version)
		} else {
			f.Version, f.versionRange = fc.Version, c
		}
	}
	f.Fallbacks = v.fallbacks(path, fc)
	f.Nest = append([]string(nil), fc.Nest...)
	f.Params = v.params(path, fc)
	f.Breaker = v.breaker(path, fc.Breaker, def.Breaker)
	f.Auth, f.secret = v.auth(path, fc.Auth, def.Auth, env)
	if len(v.errs) > nerr {
		return nil
	}
	return f
}

// fragmentURL checks a fragment's url and returns it with its origin
// (scheme://host), where its assets are fetched.
func (v *validator) fragmentURL(path, s string) (string, string) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		v.addf(path, "a url is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.addf(path, "%q is not an http(s) URL", s)
	case u.User != nil:
		v.addf(path, "credentials in the URL are not allowed; use auth")
	default:
		return s, u.Scheme + "://" + u.Host
	}
	return "", ""
}

// fallbacks checks a fragment's fallbacks by view: each names a view its
// params allow.
func (v *validator) fallbacks(path string, fc FragmentConfig) map[string][]byte {
	var out map[string][]byte
	for _, view := range sortedKeys(fc.Fallbacks) {
		if !valuePattern.MatchString(view) {
			v.addf(path+".fallbacks."+view, "%q is not a view name (use the value of the slots' view parameter, e.g. mini)", view)
			continue
		}
		if vals, ok := fc.Params["view"]; ok && len(vals) > 0 && !slices.Contains(vals, view) {
			v.addf(path+".fallbacks."+view, "%q is not one of the views params.view lists (%s)", view, strings.Join(vals, ", "))
			continue
		}
		if out == nil {
			out = make(map[string][]byte, len(fc.Fallbacks))
		}
		out[view] = []byte(fc.Fallbacks[view])
	}
	return out
}

// params checks the slot parameters a fragment may be placed with.
func (v *validator) params(path string, fc FragmentConfig) map[string][]string {
	var out map[string][]string
	for _, k := range sortedKeys(fc.Params) {
		if !valuePattern.MatchString(k) || slices.Contains(composerParams, k) || slices.Contains(fc.Vary, k) {
			v.addf(path+".params."+k, "%q cannot be a slot parameter (a name like view; not primary, order, reserve or a vary input)", k)
			continue
		}
		for i, val := range fc.Params[k] {
			if !valuePattern.MatchString(val) {
				v.addf(fmt.Sprintf("%s.params.%s[%d]", path, k, i), "%q must match %s", val, valuePattern)
			}
		}
		if out == nil {
			out = make(map[string][]string, len(fc.Params))
		}
		out[k] = append([]string{}, fc.Params[k]...)
	}
	return out
}

// auth compiles how the composer authenticates to a fragment: its own
// auth, else the default's (reported once, against defaults), with the
// secret read from the environment.
func (v *validator) auth(path string, own, def AuthConfig, env func(string) string) (AuthKind, string) {
	kind := AuthNone
	auth, apath := own, path+".auth"
	if auth.Kind == "" {
		auth, apath = def, "defaults.auth"
	}
	switch auth.Kind {
	case "", "none":
		kind = AuthNone
	case "bearer", "hmac":
		kind = AuthBearer
		if auth.Kind == "hmac" {
			kind = AuthHMAC
		}
		if auth.SecretEnv == "" {
			v.addOnce(apath+".secret_env", "%s auth needs secret_env (the variable holding the secret)", auth.Kind)
			break
		}
		secret := env(auth.SecretEnv)
		if secret == "" {
			v.addOnce(apath+".secret_env", "environment variable %s is empty", auth.SecretEnv)
		}
		return kind, secret
	default:
		v.addOnce(apath+".kind", "%q is not one of none, bearer, hmac", auth.Kind)
	}
	return kind, ""
}

// breaker compiles a fragment's breaker settings: each field its own, else
// the default's (reported once, against defaults), else the built-in one.
func (v *validator) breaker(path string, own, def BreakerConfig) upstream.BreakerSettings {
	b := upstream.BreakerSettings{
		MinRequests: upstream.DefaultBreakerMinRequests,
		FailureRate: upstream.DefaultBreakerFailureRate,
		Window:      upstream.DefaultBreakerWindow,
		Probes:      upstream.DefaultBreakerProbes,
		Cooldown:    upstream.DefaultBreakerCooldown,
	}
	for _, layer := range []struct {
		path string
		c    BreakerConfig
	}{{"defaults.breaker", def}, {path + ".breaker", own}} {
		c, p := layer.c, layer.path
		switch {
		case c.MinRequests != nil && c.Failures != nil:
			v.addOnce(p+".failures", "failures is the older name of min_requests; set only min_requests")
		case c.MinRequests != nil || c.Failures != nil:
			n, name := c.MinRequests, "min_requests"
			if n == nil {
				n, name = c.Failures, "failures"
			}
			if *n < 0 || *n > 10000 {
				v.addOnce(p+"."+name, "%d must be between 0 (off) and 10000", *n)
			} else {
				b.MinRequests = *n
			}
		}
		if r := c.FailureRate; r != nil {
			if !(*r > 0 && *r <= 1) {
				v.addOnce(p+".failure_rate", "%v must be over 0 and at most 1 (0.8 opens the circuit when 80%% of the fetches in the window failed)", *r)
			} else {
				b.FailureRate = *r
			}
		}
		if c.Probes != 0 {
			if c.Probes < 1 || c.Probes > 100 {
				v.addOnce(p+".probes", "%d must be between 1 and 100", c.Probes)
			} else {
				b.Probes = c.Probes
			}
		}
		b.Window = v.duration(p+".window", c.Window, b.Window, time.Hour, false)
		b.Cooldown = v.duration(p+".cooldown", c.Cooldown, b.Cooldown, time.Hour, false)
	}
	if b.Window < 10*time.Millisecond {
		v.addOnce(path+".breaker.window", "%s is shorter than 10ms", b.Window)
	}
	return b
}

// composerParams are the marker parameters the composer takes for itself
// (bindSlot): a fragment's params cannot name them.
var composerParams = []string{"primary", "order", "reserve"}

// DefaultMaxKeys is how many distinct cache keys a fragment that varies by
// an input without an allowlist may store per window, unless its config
// says otherwise.
const DefaultMaxKeys = 1000

// maxKeys is a fragment's key bound: 0 when every input it varies by has
// an allowlist, else its max_keys, the default's, or DefaultMaxKeys.
func (v *validator) maxKeys(path string, own, def int, vary []string, inputs map[string]InputConfig) int {
	n, field := own, path+".max_keys"
	if n == 0 {
		n, field = def, "defaults.max_keys"
	}
	switch {
	case n == 0:
		n = DefaultMaxKeys
	case n < 0 || n > 1_000_000:
		v.addOnce(field, "%d must be between 1 and 1000000", n)
		n = DefaultMaxKeys
	}
	for _, name := range vary {
		if in, ok := inputs[name]; ok && len(in.Values) == 0 {
			return n
		}
	}
	return 0
}

// SessionCookie is the composer's own admin session cookie: it is never
// forwarded to a fragment, whatever the config says.
const SessionCookie = "tessera_session"

// RefusedHeader reports whether h is a request header forward_headers may
// not name: the pipeline never forwards one, even from a Site built
// without the config's checks.
func RefusedHeader(h string) bool {
	_, refused := refusedHeaders[strings.ToLower(h)]
	return refused
}

// refusedHeaders are the request headers forward_headers may not name,
// with what to use instead: credentials, cookies and hop-by-hop headers
// belong to the connection or the user, never to a fragment's config.
var refusedHeaders = map[string]string{
	"cookie":              "name the cookies in forward_cookies",
	"authorization":       "the composer authenticates itself with auth (bearer or hmac)",
	"proxy-authorization": "the composer authenticates itself with auth (bearer or hmac)",
	"host":                "the fragment's url sets it",
	"connection":          "it is hop-by-hop and belongs to one connection",
	"keep-alive":          "it is hop-by-hop and belongs to one connection",
	"proxy-authenticate":  "it is hop-by-hop and belongs to one connection",
	"proxy-connection":    "it is hop-by-hop and belongs to one connection",
	"te":                  "it is hop-by-hop and belongs to one connection",
	"trailer":             "it is hop-by-hop and belongs to one connection",
	"transfer-encoding":   "it is hop-by-hop and belongs to one connection",
	"upgrade":             "it is hop-by-hop and belongs to one connection",
	"content-length":      "the composer sends a GET without a body",
}

// forwardHeaders checks defaults.forward_headers (reported once, against
// defaults) and the fragment's own list, and returns the two together.
func (v *validator) forwardHeaders(path string, own, def []string) []string {
	var out []string
	for _, list := range []struct {
		path  string
		names []string
	}{{"defaults", def}, {path, own}} {
		for i, h := range list.names {
			field := fmt.Sprintf("%s.forward_headers[%d]", list.path, i)
			why, refused := refusedHeaders[strings.ToLower(h)]
			switch {
			case !valuePattern.MatchString(h):
				v.addOnce(field, "%q is not a header name", h)
			case refused:
				v.addOnce(field, "%q cannot be forwarded: %s", h, why)
			case !containsFold(out, h):
				out = append(out, h)
			}
		}
	}
	return out
}

// forwardCookies checks defaults.forward_cookies and the fragment's own
// list; the composer's session cookie is refused.
func (v *validator) forwardCookies(path string, own, def []string) []string {
	var out []string
	for _, list := range []struct {
		path  string
		names []string
	}{{"defaults", def}, {path, own}} {
		for i, c := range list.names {
			field := fmt.Sprintf("%s.forward_cookies[%d]", list.path, i)
			switch {
			case !valuePattern.MatchString(c):
				v.addOnce(field, "%q is not a cookie name", c)
			case c == SessionCookie:
				v.addOnce(field, "%q is the composer's own admin session and is never forwarded", c)
			case !slices.Contains(out, c):
				out = append(out, c)
			}
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
