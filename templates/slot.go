package templates

import (
	"strings"

	"github.com/a-h/templ"
)

// maxSlotToken bounds a slot name, parameter key or parameter value, matching
// what the composer accepts.
const maxSlotToken = 64

// Slot renders the slot marker the composer replaces with the fragment name:
// exactly <!--@slot:NAME--> or, with params given as "k=v",
// <!--@slot:NAME k=v k2=v2--> (params in the order given).
//
// The name, each key and each value must be 1 to 64 characters from
// [A-Za-z0-9_.-]. Slot never panics: when any of them is invalid it renders
// nothing at all, so a bad marker can neither break out of the comment nor
// reach the composer half-formed; the page then simply lacks that slot.
func Slot(name string, params ...string) templ.Component {
	m, ok := slotMarker(name, params)
	if !ok {
		return templ.NopComponent
	}
	return templ.Raw(m)
}

func slotMarker(name string, params []string) (string, bool) {
	if !validSlotToken(name) {
		return "", false
	}
	var b strings.Builder
	b.WriteString("<!--@slot:")
	b.WriteString(name)
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !validSlotToken(k) || !validSlotToken(v) {
			return "", false
		}
		b.WriteByte(' ')
		b.WriteString(p)
	}
	b.WriteString("-->")
	return b.String(), true
}

func validSlotToken(s string) bool {
	if s == "" || len(s) > maxSlotToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}
