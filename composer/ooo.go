package composer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"strconv"
	"time"

	"github.com/tessera-dev/tessera/composer/config"
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

// slotName is the name of slot i's range in the document.
func slotName(i int) string { return "tessera-" + strconv.Itoa(i) }

// appendPlaceholder appends the place slot i of fragment f takes until its
// markup arrives: a range holding the fallback for its view, or a pending box that
// keeps the slot's reserved height and tells assistive technology it is
// loading. Nothing in it takes focus.
func appendPlaceholder(dst []byte, i int, s *config.Slot) []byte {
	dst = append(dst, `<?start name="`...)
	dst = append(dst, slotName(i)...)
	dst = append(dst, `">`...)
	f := s.Fragment
	if len(s.Fallback()) > 0 && s.Reserve() == "" {
		dst = append(dst, s.Fallback()...)
	} else {
		dst = append(dst, `<div class="frag-pending" data-fragment-pending="`...)
		dst = append(dst, f.Name...)
		dst = append(dst, `" aria-busy="true"`...)
		if s.Reserve() != "" {
			dst = append(dst, ` style="min-height:`...)
			dst = append(dst, s.Reserve()...)
			dst = append(dst, '"')
		}
		dst = append(dst, '>')
		if s.Reserve() != "" {
			dst = append(dst, s.Fallback()...)
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
