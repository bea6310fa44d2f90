package config

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tessera-dev/tessera/internal/protocol"
	"github.com/tessera-dev/tessera/templates"
)

// renderLayout produces a page's layout HTML: a built-in templ layout by
// name, or an HTML file read relative to dir.
func renderLayout(pc PageConfig, dir string) ([]byte, error) {
	if mk, ok := templates.Layouts()[pc.Layout]; ok {
		var buf bytes.Buffer
		if err := mk(templates.LayoutData{Title: pc.Title, Path: pc.Path}).Render(context.Background(), &buf); err != nil {
			return nil, fmt.Errorf("render layout %q: %w", pc.Layout, err)
		}
		return buf.Bytes(), nil
	}
	if !strings.HasSuffix(pc.Layout, ".html") {
		return nil, fmt.Errorf("%q is neither a built-in layout (%s) nor an .html file", pc.Layout, strings.Join(sortedKeys(templates.Layouts()), ", "))
	}
	p := pc.Layout
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read layout: %w", err)
	}
	return b, nil
}

// compilePage parses a layout and binds its markers to fragments.
func compilePage(pc PageConfig, html []byte, frags map[string]*Fragment) (*Page, error) {
	parts, err := protocol.ParseMarkers(html)
	if err != nil {
		return nil, err
	}
	p := &Page{Path: pc.Path, Title: pc.Title, layout: pc.Layout}
	for _, part := range parts {
		if part.Marker == nil {
			p.parts = append(p.parts, Part{Static: part.Static})
			continue
		}
		s, err := bindSlot(part.Marker, frags)
		if err != nil {
			return nil, err
		}
		s.index = len(p.slots)
		p.slots = append(p.slots, s)
		p.parts = append(p.parts, Part{Slot: s})
		if s.Primary {
			p.hasPrimary = true
		}
	}
	if len(p.slots) == 0 {
		return nil, fmt.Errorf("layout %q has no <!--@slot:NAME--> markers", pc.Layout)
	}
	return p, nil
}

// bindSlot resolves a marker to its fragment. The parameter "primary" is the
// composer's own (primary=true|false); the others go to the fragment.
func bindSlot(m *protocol.Marker, frags map[string]*Fragment) (*Slot, error) {
	f, ok := frags[m.Name]
	if !ok {
		return nil, &unknownSlotError{name: m.Name}
	}
	s := &Slot{Fragment: f, Primary: f.Primary}
	q := url.Values{}
	for _, p := range m.Params {
		if p.Key == "primary" {
			s.Primary = p.Value == "true"
			continue
		}
		if ok, err := s.deliveryParam(p); ok {
			if err != nil {
				return nil, fmt.Errorf("slot %q: %w", m.Name, err)
			}
			continue
		}
		if slices.Contains(f.Vary, p.Key) {
			return nil, fmt.Errorf("slot %q sets %q, which is a request input of that fragment", m.Name, p.Key)
		}
		if f.Params != nil && !f.AllowsParam(p.Key, p.Value) {
			return nil, fmt.Errorf("slot %q sets %s=%s, which the fragment's params do not list", m.Name, p.Key, p.Value)
		}
		q.Set(p.Key, p.Value)
	}
	s.params = q.Encode()
	s.fallback = f.FallbackFor(q.Get("view"))
	return s, nil
}

// FallbackFor is the fallback of a slot placing f with view.
func (f *Fragment) FallbackFor(view string) []byte {
	if b, ok := f.Fallbacks[view]; ok && view != "" {
		return b
	}
	return f.Fallback
}

// unknownSlotError is a slot naming a fragment the compiled config lacks:
// undeclared, or declared but refused (then the fragment's own problem is
// the one to report).
type unknownSlotError struct{ name string }

func (e *unknownSlotError) Error() string {
	return fmt.Sprintf("slot %q names no declared fragment", e.name)
}

// BindNested binds a marker found in a fragment's answer to f: every
// parameter must be one f's params allow, and primary is the page's alone.
func BindNested(m *protocol.Marker, f *Fragment) (*Slot, error) {
	q := url.Values{}
	for _, p := range m.Params {
		if !f.AllowsParam(p.Key, p.Value) {
			return nil, fmt.Errorf("%w: %s=%s is not a parameter %s allows", protocol.ErrBadMarker, p.Key, p.Value, f.Name)
		}
		q.Set(p.Key, p.Value)
	}
	return &Slot{Fragment: f, params: q.Encode(), fallback: f.FallbackFor(q.Get("view"))}, nil
}
