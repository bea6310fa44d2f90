package protocol

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseLinks(t *testing.T) {
	css := Asset{Stylesheet, "/assets/h.1a2b3c4d.css"}
	js := Asset{Script, "/assets/h.77e0d1aa.js"}
	for _, tt := range []struct {
		name    string
		values  []string
		want    []Asset
		refused int
	}{
		{"one stylesheet", []string{"</assets/h.1a2b3c4d.css>; rel=stylesheet"}, []Asset{css}, 0},
		{"two in one header", []string{`</assets/h.1a2b3c4d.css>; rel="stylesheet", </assets/h.77e0d1aa.js>; rel=script`}, []Asset{css, js}, 0},
		{"tailor script rel", []string{"</assets/h.77e0d1aa.js>; rel=fragment-script"}, []Asset{js}, 0},
		{"duplicates once", []string{"</assets/h.1a2b3c4d.css>; rel=stylesheet", "</assets/h.1a2b3c4d.css>; rel=stylesheet"}, []Asset{css}, 0},
		{"other relations ignored", []string{"</x>; rel=preload; as=style", "<https://x.example/>; rel=canonical"}, nil, 0},
		{"javascript url", []string{"<javascript:alert(1)>; rel=script"}, nil, 1},
		{"another host", []string{"<https://evil.example/x.css>; rel=stylesheet", "<//evil.example/x.css>; rel=stylesheet"}, nil, 2},
		{"dot dot", []string{"</assets/../admin>; rel=stylesheet"}, nil, 1},
		{"query", []string{"</assets/x.css?a=1>; rel=stylesheet"}, nil, 1},
		{"comma inside url", []string{"</a,b.css>; rel=stylesheet, </assets/h.1a2b3c4d.css>; rel=stylesheet"}, []Asset{css}, 1},
		{"garbage", []string{"rel=stylesheet", "<", ";;;", ""}, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var vs [][]byte
			for _, v := range tt.values {
				vs = append(vs, []byte(v))
			}
			got := ParseLinks(vs)
			if fmt.Sprint(got.Assets) != fmt.Sprint(tt.want) || got.Refused != tt.refused {
				t.Errorf("ParseLinks(%q) = %v, refused %d; want %v, refused %d", tt.values, got.Assets, got.Refused, tt.want, tt.refused)
			}
		})
	}
}

// TestParseLinksBounded: a thousand link-values keep at most MaxAssets and
// read at most MaxLinkBytes.
func TestParseLinksBounded(t *testing.T) {
	var vs [][]byte
	for i := range 1000 {
		vs = append(vs, fmt.Appendf(nil, "</assets/a%d.css>; rel=stylesheet", i))
	}
	got := ParseLinks(vs)
	if len(got.Assets) != MaxAssets {
		t.Errorf("kept %d assets, want %d", len(got.Assets), MaxAssets)
	}
	if got.Refused == 0 || got.Refused > MaxLinkBytes {
		t.Errorf("refused %d", got.Refused)
	}
	one := []byte(strings.Repeat("</assets/a.css>; rel=stylesheet, ", 1000))
	if got := ParseLinks([][]byte{one}); len(got.Assets) != 1 {
		t.Errorf("one long header: %d assets", len(got.Assets))
	}
}

func TestSitePath(t *testing.T) {
	for loc, want := range map[string]bool{
		"/news/new-slug":          true,
		"/":                       true,
		"/news/x?a=1#top":         true,
		"//evil.example":          false,
		`/\evil.example`:          false,
		`\\evil.example`:          false,
		"https://evil.example/":   false,
		"javascript:alert(1)":     false,
		"/news/a b":               false,
		"/news/\r\nSet-Cookie: x": false,
		"":                        false,
		"news":                    false,
	} {
		if got := SitePath(loc); got != want {
			t.Errorf("SitePath(%q) = %v, want %v", loc, got, want)
		}
	}
}

func TestHeadValues(t *testing.T) {
	title := "Night trains return — São Paulo <b>&</b>"
	got, ok := DecodeHeadValue([]byte(EncodeHeadValue(title)), MaxTitle)
	if !ok || got != title {
		t.Fatalf("round trip: %q %v", got, ok)
	}
	for _, bad := range []string{"%zz", "%0a", "%ff%fe", strings.Repeat("a", MaxTitle+1), "", "%20"} {
		if v, ok := DecodeHeadValue([]byte(bad), MaxTitle); ok {
			t.Errorf("DecodeHeadValue(%q) = %q, want refused", bad, v)
		}
	}
	if !ValidRobots("noindex, follow") || !ValidRobots("max-snippet:50") || ValidRobots(`"><script>`) {
		t.Error("ValidRobots")
	}
}

func FuzzParseLinks(f *testing.F) {
	f.Add("</assets/h.1a2b3c4d.css>; rel=stylesheet, </x.js>; rel=\"script module\"")
	f.Add(`<"a,b">; rel=stylesheet; title="a,b"`)
	f.Fuzz(func(t *testing.T, v string) {
		r := ParseLinks([][]byte{[]byte(v), []byte(v)})
		if len(r.Assets) > MaxAssets {
			t.Fatalf("%d assets", len(r.Assets))
		}
		for _, a := range r.Assets {
			if !ValidAssetPath(a.Path) || a.Kind == 0 {
				t.Fatalf("kept %+v", a)
			}
			if again := ParseLinks([][]byte{AppendLink(nil, a)}); len(again.Assets) != 1 || again.Assets[0] != a {
				t.Fatalf("AppendLink(%+v) reads back as %+v", a, again)
			}
		}
	})
}

func TestAbsoluteHTTP(t *testing.T) {
	for loc, want := range map[string]string{
		"https://Shop.Example.com/basket":        "shop.example.com",
		"http://shop.example.com:8443/x?y=1":     "shop.example.com:8443",
		"https://shop.example.com@evil.example/": "",
		"//evil.example":                         "",
		"javascript:alert(1)":                    "",
		"https:evil.example":                     "",
		"https://evil.example/\\x":               "",
		"https://evil.example/ x":                "",
		"ftp://evil.example/":                    "",
		"/news/x":                                "",
	} {
		host, ok := AbsoluteHTTP(loc)
		if host != want || ok != (want != "") {
			t.Errorf("AbsoluteHTTP(%q) = %q, %v; want %q", loc, host, ok, want)
		}
	}
	for code, want := range map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true, 300: false, 304: false, 200: false} {
		if IsRedirect(code) != want {
			t.Errorf("IsRedirect(%d) = %v", code, !want)
		}
	}
}
