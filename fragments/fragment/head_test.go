package fragment

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"

	"github.com/tessera-dev/tessera/internal/protocol"
)

// sentHead reads the head headers as the composer does; a header that is
// absent or that the composer would drop is left out.
func sentHead(h *fasthttp.ResponseHeader) map[string]string {
	got := map[string]string{}
	for name, max := range map[string]int{
		protocol.HeaderTitle:       protocol.MaxTitle,
		protocol.HeaderDescription: protocol.MaxDescription,
		protocol.HeaderCanonical:   protocol.MaxCanonical,
		protocol.HeaderRobots:      protocol.MaxRobots,
	} {
		raw := h.Peek(name)
		if raw == nil {
			continue
		}
		v, ok := protocol.DecodeHeadValue(raw, max)
		if !ok {
			got[name] = "UNREADABLE " + string(raw)
			continue
		}
		got[name] = v
	}
	return got
}

func TestSetHead(t *testing.T) {
	t.Parallel()
	longTitle := strings.Repeat("é", protocol.MaxTitle) // 2 bytes each
	longDesc := strings.Repeat("a", protocol.MaxDescription-1) + "€uro"
	tests := []struct {
		name string
		head Head
		want map[string]string
	}{
		{"all four", Head{Title: "Night trains return to the Alps", Description: "Four new routes, 100% sleeper", Canonical: "/news/night-trains-return", Robots: "noindex, follow"}, map[string]string{
			protocol.HeaderTitle:       "Night trains return to the Alps",
			protocol.HeaderDescription: "Four new routes, 100% sleeper",
			protocol.HeaderCanonical:   "/news/night-trains-return",
			protocol.HeaderRobots:      "noindex, follow",
		}},
		{"empty", Head{}, map[string]string{}},
		{"unicode and reserved characters", Head{Title: "Café & crème: a/b?c#d"}, map[string]string{protocol.HeaderTitle: "Café & crème: a/b?c#d"}},
		{"long title cut at a character", Head{Title: longTitle}, map[string]string{protocol.HeaderTitle: strings.Repeat("é", protocol.MaxTitle/2)}},
		{"long description cut before a split character", Head{Description: longDesc}, map[string]string{protocol.HeaderDescription: strings.Repeat("a", protocol.MaxDescription-1)}},
		{"control characters", Head{Title: "Line one\nline two\x00", Description: "\ttabbed\r\n"}, map[string]string{protocol.HeaderTitle: "Line one line two", protocol.HeaderDescription: "tabbed"}},
		{"invalid UTF-8", Head{Title: "ok\xff\xfe"}, map[string]string{protocol.HeaderTitle: "ok"}},
		{"only spaces", Head{Title: "   "}, map[string]string{}},
		{"canonical on another host", Head{Canonical: "//evil.example/x"}, map[string]string{}},
		{"canonical with a backslash", Head{Canonical: `/\evil.example`}, map[string]string{}},
		{"canonical URL", Head{Canonical: "https://example.com/news/x"}, map[string]string{}},
		{"canonical too long", Head{Canonical: "/" + strings.Repeat("a", protocol.MaxCanonical)}, map[string]string{}},
		{"canonical with a query", Head{Canonical: "/news/x?page=2"}, map[string]string{protocol.HeaderCanonical: "/news/x?page=2"}},
		{"robots with markup", Head{Robots: `noindex"><script>`}, map[string]string{}},
		{"robots too long", Head{Robots: strings.Repeat("noindex,", 10)}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ctx fasthttp.RequestCtx
			SetHead(&ctx, tt.head)
			got := sentHead(&ctx.Response.Header)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("head (-want +got):\n%s", diff)
			}
			for _, v := range got {
				if !utf8.ValidString(v) {
					t.Errorf("%q is not UTF-8", v)
				}
			}
		})
	}
}

func TestSetHeadTwiceKeepsTheLast(t *testing.T) {
	t.Parallel()
	var ctx fasthttp.RequestCtx
	SetHead(&ctx, Head{Title: "First", Robots: "noindex"})
	SetHead(&ctx, Head{Title: "Second"})
	if diff := cmp.Diff(map[string]string{protocol.HeaderTitle: "Second"}, sentHead(&ctx.Response.Header)); diff != "" {
		t.Errorf("head (-want +got):\n%s", diff)
	}
}

func TestHeadOverHTTP(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, Config{}, func(ctx *fasthttp.RequestCtx) (templ.Component, error) {
		SetHead(ctx, Head{Title: "Zoë’s story", Description: "Standfirst", Canonical: "/news/zoe", Robots: "max-snippet:50"})
		switch string(ctx.QueryArgs().Peek("case")) {
		case "missing":
			return nil, NotFound(templ.Raw(`<p data-fragment="hello">No story</p>`))
		case "fail":
			return nil, Errorf(fasthttp.StatusBadRequest, "bad story")
		}
		return hello(ctx)
	})
	ln := start(t, srv)
	want := map[string]string{
		protocol.HeaderTitle:       "Zoë’s story",
		protocol.HeaderDescription: "Standfirst",
		protocol.HeaderCanonical:   "/news/zoe",
		protocol.HeaderRobots:      "max-snippet:50",
	}
	for _, q := range []string{"/", "/?case=missing"} {
		resp := get(t, ln, q)
		if diff := cmp.Diff(want, sentHead(&resp.Header)); diff != "" {
			t.Errorf("%s: head (-want +got):\n%s", q, diff)
		}
	}
	// An answer that turns into an error says nothing about the page.
	if resp := get(t, ln, "/?case=fail"); len(sentHead(&resp.Header)) != 0 {
		t.Errorf("a 400 carries head headers: %v", sentHead(&resp.Header))
	}
}
