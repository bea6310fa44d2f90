package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// How a page's slots are delivered: the page's and the slots' order,
// reserved heights, the clients served in document order, and early
// hints.

// Order is how a slot is delivered on a streamed page.
type Order int

const (
	// OrderAuto: arrival for a non-primary slot, document for a primary.
	OrderAuto Order = iota
	// OrderDocument: the slot is written where it stands, once it is in;
	// what follows it waits.
	OrderDocument
	// OrderArrival: the slot's place is sent at once and its markup
	// patched in when it arrives.
	OrderArrival
)

func parseOrder(s string) (Order, error) {
	switch s {
	case "":
		return OrderAuto, nil
	case "document":
		return OrderDocument, nil
	case "arrival":
		return OrderArrival, nil
	}
	return OrderAuto, fmt.Errorf("%q is not one of document, arrival", s)
}

// DefaultCrawlers are the User-Agent substrings (matched case-insensitively)
// of clients that get every slot in document order: search and link-preview
// crawlers, many of which run no script and all of which index the document
// as sent.
var DefaultCrawlers = []string{
	"googlebot", "google-inspectiontool", "bingbot", "slurp", "duckduckbot",
	"baiduspider", "yandex", "applebot", "petalbot", "facebookexternalhit",
	"twitterbot", "linkedinbot", "slackbot", "discordbot", "telegrambot",
	"whatsapp", "ahrefsbot", "semrushbot", "mj12bot", "gptbot", "ccbot",
}

// compileCrawlers lowercases a configured crawler list; nil means
// DefaultCrawlers, an empty list none at all.
func compileCrawlers(list []string) [][]byte {
	if list == nil {
		list = DefaultCrawlers
	}
	out := make([][]byte, 0, len(list))
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, []byte(strings.ToLower(s)))
		}
	}
	return out
}

// IsCrawler reports whether ua contains one of the site's crawler
// substrings, ignoring ASCII case.
func (s *Site) IsCrawler(ua []byte) bool {
	if len(s.crawlers) == 0 || len(ua) == 0 {
		return false
	}
	var buf [256]byte
	lower := buf[:0]
	for _, c := range ua[:min(len(ua), 512)] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, c := range s.crawlers {
		if bytes.Contains(lower, c) {
			return true
		}
	}
	return false
}

// configureOrder applies a page's order setting; it returns an error for
// a value that is not one.
func configureOrder(p *Page, value string) error {
	o, err := parseOrder(value)
	if err != nil {
		return err
	}
	p.order = o
	return nil
}

// ByArrival reports whether slot s of page p is sent in arrival order
// when the page streams.
func (p *Page) ByArrival(s *Slot) bool {
	o := s.order
	if o == OrderAuto {
		o = p.order
	}
	switch o {
	case OrderDocument:
		return false
	case OrderArrival:
		return !s.Primary
	}
	return !s.Primary
}

// reservePattern is what a slot's reserve may be: a CSS length the
// placeholder's min-height is set to.
var reservePattern = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,2})?(px|em|rem|vh|lh)$`)

// deliveryParam takes a marker parameter that is the composer's own:
// order=document|arrival or reserve=LENGTH. It reports whether p was one.
func (s *Slot) deliveryParam(p protocol.Param) (bool, error) {
	switch p.Key {
	case "order":
		o, err := parseOrder(p.Value)
		if err != nil {
			return true, fmt.Errorf("order: %w", err)
		}
		s.order = o
		return true, nil
	case "reserve":
		if !reservePattern.MatchString(p.Value) {
			return true, fmt.Errorf("reserve %q is not a CSS length such as 240px or 12em", p.Value)
		}
		s.reserve = p.Value
		return true, nil
	}
	return false, nil
}

// EarlyHints is when pages start with 103 Early Hints.
type EarlyHints int

// The early_hints settings.
const (
	// HintsDirect sends them only to a client that reached the composer
	// directly: many proxies take a 103 for the answer.
	HintsDirect EarlyHints = iota
	HintsAlways
	HintsNever
)
