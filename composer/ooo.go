package composer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Out-of-order delivery. On a streamed page, a slot sent in arrival order
// whose markup is not in yet leaves its place in the document at once:
//
//	<?start name="tessera-N">PLACEHOLDER<?end>
//
// where PLACEHOLDER is the fragment's fallback or a pending box with
// aria-busy, sized by the slot's reserve. Its markup follows, before
// </body>, as soon as it arrives:
//
//	<template for="tessera-N">MARKUP</template><script>$tsp()</script>
//
// Chromium (declarative partial updates) replaces the range with the
// template as it parses it, with no script. Elsewhere the processing
// instructions are comments and the template stays in the document; the
// small script, sent once before the first patch, moves each template's
// content into its range. Both scripts are constant, so a Content-Security-
// Policy allows them by hash (OutOfOrderScriptHashes).

// order is how a slot is delivered on a streamed page.
type order int

const (
	// orderAuto: arrival for a non-primary slot, document for a primary.
	orderAuto order = iota
	// orderDocument: the slot is written where it stands, once it is in;
	// what follows it waits.
	orderDocument
	// orderArrival: the slot's place is sent at once and its markup
	// patched in when it arrives.
	orderArrival
)

func parseOrder(s string) (order, error) {
	switch s {
	case "":
		return orderAuto, nil
	case "document":
		return orderDocument, nil
	case "arrival":
		return orderArrival, nil
	}
	return orderAuto, fmt.Errorf("%q is not one of document, arrival", s)
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

// isCrawler reports whether ua contains one of the site's crawler
// substrings, ignoring ASCII case.
func (s *Site) isCrawler(ua []byte) bool {
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

// byArrival reports whether slot s of page p is sent in arrival order
// when the page streams.
func (p *Page) byArrival(s *Slot) bool {
	o := s.order
	if o == orderAuto {
		o = p.order
	}
	switch o {
	case orderDocument:
		return false
	case orderArrival:
		return !s.Primary
	}
	return !s.Primary
}

// reservePattern is what a slot's reserve may be: a CSS length the
// placeholder's min-height is set to.
var reservePattern = regexp.MustCompile(`^[0-9]{1,4}(\.[0-9]{1,2})?(px|em|rem|vh|lh)$`)

// slotName is the name of slot i's range in the document.
func slotName(i int) string { return "tessera-" + strconv.Itoa(i) }

// appendPlaceholder appends the place slot i of fragment f takes until its
// markup arrives: a range holding the fallback for its view, or a pending box that
// keeps the slot's reserved height and tells assistive technology it is
// loading. Nothing in it takes focus.
func appendPlaceholder(dst []byte, i int, s *Slot) []byte {
	dst = append(dst, `<?start name="`...)
	dst = append(dst, slotName(i)...)
	dst = append(dst, `">`...)
	f := s.Fragment
	if len(s.fallback) > 0 && s.reserve == "" {
		dst = append(dst, s.fallback...)
	} else {
		dst = append(dst, `<div class="frag-pending" data-fragment-pending="`...)
		dst = append(dst, f.Name...)
		dst = append(dst, `" aria-busy="true"`...)
		if s.reserve != "" {
			dst = append(dst, ` style="min-height:`...)
			dst = append(dst, s.reserve...)
			dst = append(dst, '"')
		}
		dst = append(dst, '>')
		if s.reserve != "" {
			dst = append(dst, s.fallback...)
		}
		dst = append(dst, `</div>`...)
	}
	return append(dst, `<?end>`...)
}

// appendPatchOpen and appendPatchClose wrap a slot's markup sent after its
// place.
func appendPatchOpen(dst []byte, i int) []byte {
	dst = append(dst, `<template for="`...)
	dst = append(dst, slotName(i)...)
	return append(dst, `">`...)
}

func appendPatchClose(dst []byte, nonce string) []byte {
	dst = append(dst, "</template>"...)
	dst = appendScriptOpen(dst, nonce)
	return append(dst, patchCall+"</script>"...)
}

// appendScriptOpen opens an inline script, with the page's CSP nonce
// when it has one.
func appendScriptOpen(dst []byte, nonce string) []byte {
	if nonce == "" {
		return append(dst, "<script>"...)
	}
	dst = append(dst, `<script nonce="`...)
	dst = append(dst, nonce...)
	return append(dst, `">`...)
}

// patchScript defines $tsp, which applies every <template for> still in
// the document (none where the browser applied them itself) to the range
// it names: its processing instructions are comments there, or
// instructions the browser does not act on.
const patchScript = `self.$tsp=function(){var d=document;d.querySelectorAll("template[for]").forEach(function(t){` +
	`var n='start name="'+t.getAttribute("for")+'"',w=d.createTreeWalker(d.body,192),s,c,k;` +
	`while(c=w.nextNode()){k=(c.nodeType==7?c.target+" "+c.data:c.data.slice(1)).trim();` +
	`if(!s){if(k==n)s=c}else if(k=="end"){var r=d.createRange();r.setStartBefore(s);r.setEndAfter(c);` +
	`r.deleteContents();r.insertNode(t.content);t.remove();return}}})}`

const patchCall = `$tsp()`

// appendPatchScript is the script tag defining $tsp.
func appendPatchScript(dst []byte, nonce string) []byte {
	dst = appendScriptOpen(dst, nonce)
	return append(dst, patchScript+"</script>"...)
}

// OutOfOrderScriptHashes returns the CSP source expressions
// ('sha256-…') of the two inline scripts an out-of-order page carries, for
// a script-src directive.
func OutOfOrderScriptHashes() []string {
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return []string{h(patchScript), h(patchCall)}
}

// bodyClose finds where patches go in a page's last static part: before
// its last </body>, else at its end.
func bodyClose(static []byte) int {
	for i := len(static) - len("</body>"); i >= 0; i-- {
		if static[i] == '<' && len(static) >= i+7 && bytes.EqualFold(static[i:i+7], []byte("</body>")) {
			return i
		}
	}
	return len(static)
}

// nextArrival waits for one of the late slots to be done and returns its
// index in late; every heartbeat it calls beat, and it returns -1 when
// beat fails (the client went away).
func nextArrival(late []*slotRun, beat func() bool) int {
	cases := make([]reflect.SelectCase, 0, len(late)+1)
	for _, sr := range late {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sr.done)})
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.C)})
	for {
		i, _, _ := reflect.Select(cases)
		if i < len(late) {
			return i
		}
		if !beat() {
			return -1
		}
	}
}

// isDone reports whether a slot's result is in.
func isDone(sr *slotRun) bool {
	if sr.done == nil {
		return true
	}
	select {
	case <-sr.done:
		return true
	default:
		return false
	}
}

// deliveryParam takes a marker parameter that is the composer's own:
// order=document|arrival or reserve=LENGTH. It reports whether p was one.
func (s *Slot) deliveryParam(p Param) (bool, error) {
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
