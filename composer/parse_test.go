package composer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer"
)

func TestParseLayout(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []composer.Part
		wantErr bool
	}{
		{name: "static only", in: "<p>x</p>", want: []composer.Part{{Static: []byte("<p>x</p>")}}},
		{name: "one slot", in: "a<!--@slot:news-->b", want: []composer.Part{
			{Static: []byte("a")}, {Marker: &composer.Marker{Name: "news"}}, {Static: []byte("b")},
		}},
		{name: "params", in: "<!--@slot:shows view=grid limit=12-->", want: []composer.Part{
			{Marker: &composer.Marker{Name: "shows", Params: []composer.Param{{Key: "view", Value: "grid"}, {Key: "limit", Value: "12"}}}},
		}},
		{name: "ordinary comment kept", in: "<!-- hello -->", want: []composer.Part{{Static: []byte("<!-- hello -->")}}},
		{name: "unterminated", in: "<!--@slot:news", wantErr: true},
		{name: "bad name", in: "<!--@slot:../etc-->", wantErr: true},
		{name: "empty name", in: "<!--@slot:-->", wantErr: true},
		{name: "bad param", in: "<!--@slot:a x=<b>-->", wantErr: true},
		{name: "param without value", in: "<!--@slot:a view-->", wantErr: true},
		{name: "overlong marker", in: "<!--@slot:a " + strings.Repeat("k=v ", 200) + "-->", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := composer.ParseLayout([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, composer.ErrBadMarker) {
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

func FuzzParseLayout(f *testing.F) {
	for _, s := range []string{"", "<!--@slot:a-->", "x<!--@slot:b k=v-->y<!--@slot:c-->", "<!--@slot:", "<!--@slot:a k-->"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		parts, err := composer.ParseLayout(in)
		if err != nil {
			return
		}
		// Reassembling static parts and markers must give back the input's
		// static bytes in order, and every marker must have a valid name.
		var static []byte
		for _, p := range parts {
			if p.Marker != nil {
				if p.Marker.Name == "" || strings.ContainsAny(p.Marker.Name, " <>/") {
					t.Fatalf("bad marker name %q", p.Marker.Name)
				}
				continue
			}
			if len(p.Static) == 0 {
				t.Fatal("empty static part")
			}
			static = append(static, p.Static...)
		}
		if len(static) > len(in) {
			t.Fatal("static parts longer than input")
		}
		if !bytes.Contains(in, []byte("<!--@slot:")) && !bytes.Equal(static, in) {
			t.Fatal("input without markers not kept whole")
		}
	})
}

func TestConfigErrorsHaveLineAndField(t *testing.T) {
	src := `fragments:
  weather:
    url: http://127.0.0.1:8082/
    timeout: 3 seconds
    vary: [planet]
  news:
    url: ftp://example
    auth:
      kind: kerberos
pages:
  - path: /
    layout: nope
`
	cfg, err := composer.ParseConfig("tessera.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Compile("tessera.yaml", []byte(src), t.TempDir(), func(string) string { return "" })
	var errs composer.ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want ConfigErrors", err)
	}
	got := err.Error()
	for _, want := range []string{
		`tessera.yaml:4: fragments.weather.timeout: "3 seconds" is not a duration`,
		`tessera.yaml:5: fragments.weather.vary[0]: "planet" is not a declared input`,
		`tessera.yaml:7: fragments.news.url: "ftp://example" is not an http(s) URL`,
		`tessera.yaml:9: fragments.news.auth.kind: "kerberos" is not one of none, bearer, hmac`,
		`tessera.yaml:12: pages[0].layout:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q; got:\n%s", want, got)
		}
	}
}

func TestConfigRejectsUnknownField(t *testing.T) {
	_, err := composer.ParseConfig("t.yaml", []byte("fragments:\n  a:\n    url: http://x/\n    tll: 5s\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4") {
		t.Fatalf("err = %v, want an unknown-field error on line 4", err)
	}
}

func TestDefaultConfigCompiles(t *testing.T) {
	cfg, err := composer.ParseConfig("tessera.yaml", composer.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	site, err := cfg.Compile("tessera.yaml", composer.DefaultConfig, ".", func(string) string { return "s3cret" })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/shows", "/weather"} {
		if site.Pages[p] == nil {
			t.Errorf("page %s missing", p)
		}
	}
	if n := len(site.Pages["/"].Slots()); n != 4 {
		t.Errorf("home has %d slots, want 4 (top bar, headlines, shows, weather)", n)
	}
}

// FuzzConfig feeds arbitrary YAML through parsing and validation: it must
// give a config or errors, never panic.
func FuzzConfig(f *testing.F) {
	f.Add(composer.DefaultConfig)
	f.Add([]byte("fragments:\n  a:\n    url: http://x/\n    ttl: 5s\npages:\n  - path: /news/{story}\n    layout: home\n"))
	f.Add([]byte("fragments: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := composer.ParseConfig("f.yaml", src)
		if err != nil {
			return
		}
		_, _ = cfg.Compile("f.yaml", src, t.TempDir(), func(string) string { return "x" })
	})
}
