package shows

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// catalogue holds every show, newest first. Writers replace the slice
// instead of changing it, so a reader's snapshot never changes under it.
type catalogue struct {
	mu     sync.RWMutex
	shows  []Show
	added  int
	slugs  map[string]bool
	titles map[string]bool
}

func newCatalogue(builtin, added []Show, log *slog.Logger) *catalogue {
	c := &catalogue{slugs: map[string]bool{}, titles: map[string]bool{}}
	all := make([]Show, 0, len(builtin)+len(added))
	for _, s := range builtin {
		all = append(all, s)
		c.slugs[s.Slug], c.titles[titleKey(s.Title)] = true, true
	}
	for _, s := range added {
		if c.slugs[s.Slug] {
			log.Warn("skipping stored show with a slug already in use", slog.String("slug", s.Slug))
			continue
		}
		all = append(all, s)
		c.slugs[s.Slug], c.titles[titleKey(s.Title)] = true, true
		c.added++
	}
	sortNewestFirst(all)
	c.shows = all
	return c
}

func (c *catalogue) snapshot() []Show {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.shows
}

var (
	errDuplicate = errors.New("a show with this title already exists")
	errFull      = errors.New("the catalogue is full")
)

// add gives s a unique slug and its artwork colours, has persist store it,
// and only then makes it visible. It holds the lock throughout so that two
// additions cannot take the same slug or title.
func (c *catalogue) add(s Show, maxAdded int, persist func(Show) error) (Show, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.titles[titleKey(s.Title)] {
		return Show{}, errDuplicate
	}
	if c.added >= maxAdded {
		return Show{}, errFull
	}
	base := slugify(s.Title)
	s.Slug = base
	for i := 2; c.slugs[s.Slug]; i++ {
		s.Slug = base + "-" + strconv.Itoa(i)
	}
	s.Colors = palette[paletteIndex(s.Slug)]
	if err := persist(s); err != nil {
		return Show{}, err
	}
	shows := make([]Show, 0, len(c.shows)+1)
	shows = append(shows, s)
	shows = append(shows, c.shows...)
	sortNewestFirst(shows)
	c.shows = shows
	c.slugs[s.Slug], c.titles[titleKey(s.Title)] = true, true
	c.added++
	return s, nil
}

func sortNewestFirst(shows []Show) {
	sort.SliceStable(shows, func(i, j int) bool { return shows[i].Added.After(shows[j].Added) })
}

func titleKey(t string) string { return strings.ToLower(strings.Join(strings.Fields(t), " ")) }

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// check reports whether a show read from data or from the store is fit to
// render.
func (s Show) check() error {
	switch {
	case s.Slug == "" || slugify(s.Slug) != s.Slug:
		return fmt.Errorf("bad slug %q", s.Slug)
	case s.Title == "" || !utf8.ValidString(s.Title):
		return fmt.Errorf("show %q: bad title", s.Slug)
	case s.Added.IsZero():
		return fmt.Errorf("show %q: no date added", s.Slug)
	case !colorRE.MatchString(s.Colors[0]) || !colorRE.MatchString(s.Colors[1]):
		return fmt.Errorf("show %q: colours must be #rrggbb", s.Slug)
	}
	return nil
}

// slugify makes a URL- and id-safe slug of a title: lowercase ASCII letters
// and digits separated by single dashes.
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		r = fold(r)
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	if b.Len() == 0 {
		return "show"
	}
	return b.String()
}

// fold maps common accented Latin letters to their ASCII base letter.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		return r
	}
	const from, to = "àáâãäåçèéêëìíîïñòóôõöøùúûüýÿ", "aaaaaaceeeeiiiinoooooouuuuyy"
	if i := strings.IndexRune(from, r); i >= 0 {
		return rune(to[utf8.RuneCountInString(from[:i])])
	}
	return r
}

// initials returns up to two capital letters for a poster: the first
// letters of the first two words that start with a letter or digit, leaving
// out articles and the like unless nothing else is left.
func initials(title string) string {
	var words, minor []rune
	for _, w := range strings.FieldsFunc(title, func(r rune) bool { return unicode.IsSpace(r) || r == '-' || r == ':' }) {
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		if skipWord[strings.ToLower(w)] {
			minor = append(minor, unicode.ToUpper(r))
		} else {
			words = append(words, unicode.ToUpper(r))
		}
	}
	if len(words) == 0 {
		words = minor
	}
	if len(words) == 0 {
		return "?"
	}
	return string(words[:min(2, len(words))])
}

var skipWord = map[string]bool{"the": true, "of": true, "a": true, "an": true, "and": true, "in": true, "on": true}

// palette is the artwork colours given to added shows: pairs chosen to keep
// white initials readable.
var palette = [][2]string{
	{"#0f4c81", "#2ec4b6"},
	{"#5f0f40", "#fb8b24"},
	{"#03256c", "#2175ff"},
	{"#3a0ca3", "#f72585"},
	{"#283618", "#bc6c25"},
	{"#10002b", "#9d4edd"},
	{"#7f0000", "#ff6b35"},
	{"#004e64", "#25a18e"},
	{"#2b2d42", "#ef233c"},
	{"#1b4332", "#52b788"},
}

func paletteIndex(slug string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(slug))
	return int(h.Sum32() % uint32(len(palette)))
}
