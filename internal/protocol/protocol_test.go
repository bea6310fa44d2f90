package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendMarkerParses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		params []string
		ok     bool
	}{
		{"weather", []string{"view=mini"}, true},
		{"headlines", []string{"view=list", "limit=6"}, true},
		{"headlines", []string{"view"}, false},
		{"Bad", nil, false},
		{"x", []string{"k=v-->"}, false},
	} {
		b, ok := AppendMarker(nil, tt.name, tt.params...)
		if ok != tt.ok {
			t.Fatalf("AppendMarker(%q, %q) ok=%v", tt.name, tt.params, ok)
		}
		if !ok {
			if len(b) != 0 {
				t.Fatalf("a refused marker appended %q", b)
			}
			continue
		}
		parts, err := ParseMarkers(b)
		if err != nil || len(parts) != 1 || parts[0].Marker == nil || parts[0].Marker.Name != tt.name || len(parts[0].Marker.Params) != len(tt.params) {
			t.Fatalf("%q parsed as %+v, %v", b, parts, err)
		}
	}
}

func TestParseMarkers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Part
		wantErr bool
	}{
		{name: "static only", in: "<p>x</p>", want: []Part{{Static: []byte("<p>x</p>")}}},
		{name: "one slot", in: "a<!--@slot:news-->b", want: []Part{
			{Static: []byte("a")}, {Marker: &Marker{Name: "news"}}, {Static: []byte("b")},
		}},
		{name: "params", in: "<!--@slot:shows view=grid limit=12-->", want: []Part{
			{Marker: &Marker{Name: "shows", Params: []Param{{Key: "view", Value: "grid"}, {Key: "limit", Value: "12"}}}},
		}},
		{name: "ordinary comment kept", in: "<!-- hello -->", want: []Part{{Static: []byte("<!-- hello -->")}}},
		{name: "unterminated", in: "<!--@slot:news", wantErr: true},
		{name: "bad name", in: "<!--@slot:../etc-->", wantErr: true},
		{name: "empty name", in: "<!--@slot:-->", wantErr: true},
		{name: "bad param", in: "<!--@slot:a x=<b>-->", wantErr: true},
		{name: "param without value", in: "<!--@slot:a view-->", wantErr: true},
		{name: "overlong marker", in: "<!--@slot:a " + strings.Repeat("k=v ", 200) + "-->", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMarkers([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrBadMarker) {
					t.Fatalf("err = %v, want ErrBadMarker", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("-want +got\n%s", d)
			}
		})
	}
}

// FuzzParseMarkers: parsing never panics, keeps every byte that is not a
// marker, and what it parses writes back to a marker that parses the same.
func TestHasMarker(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"<p>no marker</p>", false},
		{"<!--@slot:", true},
		{"<p>x</p><!--@slot:a-->", true},
		{"a@b.example <!--@slot:a-->", true},
		{"@<!--@slot:a-->", true},
		{"<!--@slot", false},
		{"<!-- @slot:a-->", false},
		{"mail@example.com <!--@slo", false},
		{"@@@@", false},
	} {
		if got := HasMarker([]byte(tt.in)); got != tt.want {
			t.Errorf("HasMarker(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzHasMarker(f *testing.F) {
	f.Add([]byte(`<p>a<!--@slot:weather-->b</p>`))
	f.Add([]byte(`a@b<!--@slot`))
	f.Add([]byte(`@<!--@slot:`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := HasMarker(in), bytes.Contains(in, MarkerOpen); got != want {
			t.Fatalf("HasMarker(%q) = %v, want %v", in, got, want)
		}
	})
}

// BenchmarkHasMarker checks a 3 KB answer of ordinary markup, with no
// marker in it, as every fetched answer is checked.
func BenchmarkHasMarker(b *testing.B) {
	html := []byte(strings.Repeat(`<li class="item"><a href="/news/1">A headline</a> <span>12:00</span></li>`, 40))
	b.SetBytes(int64(len(html)))
	b.ReportAllocs()
	for b.Loop() {
		if HasMarker(html) {
			b.Fatal("marker found")
		}
	}
}

func FuzzParseMarkers(f *testing.F) {
	f.Add([]byte(`<p>a<!--@slot:weather view=mini-->b</p>`))
	f.Add([]byte(`<!--@slot:`))
	f.Add([]byte(`<!--@slot:a k=v--><!--@slot:b-->`))
	f.Add(bytes.Repeat([]byte(`<!--@slot:c-->`), 100))
	f.Fuzz(func(t *testing.T, in []byte) {
		parts, err := ParseMarkers(in)
		if err != nil {
			if !errors.Is(err, ErrBadMarker) {
				t.Fatalf("error %v is not ErrBadMarker", err)
			}
			return
		}
		var out []byte
		for _, p := range parts {
			if p.Marker == nil {
				out = append(out, p.Static...)
				continue
			}
			params := make([]string, len(p.Marker.Params))
			for i, kv := range p.Marker.Params {
				params[i] = kv.Key + "=" + kv.Value
			}
			var ok bool
			if out, ok = AppendMarker(out, p.Marker.Name, params...); !ok {
				t.Fatalf("parsed marker %+v does not write back", p.Marker)
			}
		}
		again, err := ParseMarkers(out)
		if err != nil || len(again) != len(parts) {
			t.Fatalf("written back %q parses to %d parts (%v), want %d", out, len(again), err, len(parts))
		}
	})
}
