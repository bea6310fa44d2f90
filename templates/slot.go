package templates

import (
	"github.com/a-h/templ"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// Slot renders the slot marker the composer replaces with the fragment name:
// exactly <!--@slot:NAME--> or, with params given as "k=v",
// <!--@slot:NAME k=v k2=v2--> (params in the order given).
//
// The name must be a fragment name and each key and value 1 to 64
// characters from [A-Za-z0-9_.-] (see package protocol). Slot never panics: when any of them is invalid it renders
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
	b, ok := protocol.AppendMarker(nil, name, params...)
	return string(b), ok
}
