package app_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/tessera-dev/tessera/internal/app"
	"github.com/tessera-dev/tessera/internal/redistest"
)

// testSite runs the whole site on free loopback ports with the given
// environment overrides.
func testSite(t *testing.T, env map[string]string) *app.Site {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	secrets := app.DevSecrets(getenv)
	site, err := app.StartSite(app.SiteOptions{
		Composer: app.ComposerOptions{Addr: "127.0.0.1:0", Env: secrets.Env(getenv), RedisURL: env["REDIS_URL"]},
		Fragments: app.FragmentsOptions{
			HeadlinesAddr: "127.0.0.1:0", WeatherAddr: "127.0.0.1:0", ShowsAddr: "127.0.0.1:0", TopbarAddr: "127.0.0.1:0",
			Secrets: secrets, ShowsStore: t.TempDir() + "/shows.jsonl",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := site.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return site
}

func getDoc(t *testing.T, url string) (*http.Response, *goquery.Document) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("User-Agent", scriptless)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return resp, doc
}

// renders reads how many snippets a fragment service has rendered, from
// its own /metrics.
func renders(t *testing.T, site *app.Site, name string) int {
	t.Helper()
	_, body, err := fetch(http.DefaultClient, site.Fragments.URL(name)+"metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^tessera_fragment_render_seconds_count\{fragment="` + name + `"\} (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no render count in %s metrics:\n%s", name, body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestSiteEndToEndWithRedis(t *testing.T) {
	rs := redistest.Start(t)
	site := testSite(t, map[string]string{"REDIS_URL": rs.URL()})
	base := "http://" + site.Composer.DisplayAddr()

	resp, doc := getDoc(t, base+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("home: %d", resp.StatusCode)
	}
	for _, name := range []string{"headlines", "weather", "shows"} {
		if doc.Find(`[data-slot="`+name+`"] [data-fragment="`+name+`"].frag-`+name).Length() != 1 {
			t.Errorf("home lacks the %s fragment in its slot", name)
		}
	}
	if doc.Find(".frag-fallback, .frag-empty").Length() != 0 {
		t.Fatalf("home served a fallback on a healthy site")
	}

	// The second request comes from Redis: no fragment renders again.
	waitFor(t, 2*time.Second, func() bool {
		keys, _ := rs.Client(t).Keys(context.Background(), "tessera:f:*").Result()
		return len(keys) >= 3
	})
	before := map[string]int{}
	for _, n := range []string{"headlines", "weather", "shows"} {
		before[n] = renders(t, site, n)
	}
	resp2, doc2 := getDoc(t, base+"/")
	if resp2.StatusCode != 200 || doc2.Find("[data-fragment]").Length() < 3 {
		t.Fatalf("cached home incomplete")
	}
	for n, b := range before {
		if got := renders(t, site, n); got != b {
			t.Errorf("%s rendered %d more times for a cached page", n, got-b)
		}
	}
	if cs := resp2.Header.Get("Cache-Status"); strings.Count(cs, "; hit") != 6 || !strings.Contains(cs, "tessera-topbar.weather; hit") {
		t.Errorf("Cache-Status %q, want six hits (three fragments, the top bar and the two nested in it)", cs)
	}
	// The top bar is a fragment made of two others, resolved by the composer.
	if doc2.Find(`[data-slot="topbar"] [data-fragment="topbar"] [data-fragment="headlines"][data-view="ticker"]`).Length() != 1 ||
		doc2.Find(`[data-slot="topbar"] [data-fragment="topbar"] [data-fragment="weather"][data-view="mini"]`).Length() != 1 {
		t.Errorf("top bar does not hold the nested headlines ticker and mini weather")
	}

	// The weather input reaches the fragment, and other pages reuse fragments.
	_, wdoc := getDoc(t, base+"/weather?city=tokyo")
	if txt := wdoc.Find(`[data-fragment="weather"]`).Text(); !strings.Contains(txt, "Tokyo") {
		t.Errorf("weather page for tokyo does not name Tokyo: %.200q", txt)
	}
	_, sdoc := getDoc(t, base+"/shows")
	if sdoc.Find(`[data-slot="shows"] [data-fragment="shows"]`).Length() != 1 || sdoc.Find(`[data-slot="headlines"] [data-fragment="headlines"]`).Length() != 1 {
		t.Errorf("shows page lacks its fragments")
	}

	// A stopped fragment yields its fallback inside a 200 page.
	site.Fragments.Stop("weather")
	resp3, doc3 := getDoc(t, base+"/?city=oslo")
	if resp3.StatusCode != 200 {
		t.Fatalf("page with weather down: %d", resp3.StatusCode)
	}
	if doc3.Find(`[data-slot="weather"] .frag-fallback`).Length() != 1 {
		t.Errorf("no weather fallback with the weather service stopped")
	}
	if doc3.Find(`[data-slot="headlines"] [data-fragment="headlines"].frag-headlines`).Length() != 1 {
		t.Errorf("headlines missing while only weather is down")
	}
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

func TestHangingFragmentIsCutAtItsTimeout(t *testing.T) {
	site := testSite(t, map[string]string{"TESSERA_FRAGMENT_SHOWS_URL": hangingServer(t)})
	base := "http://" + site.Composer.DisplayAddr()
	timeout := site.Composer.Site().Fragments["shows"].Timeout

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The page streams: its head and the headlines arrive while shows hangs.
	start := time.Now()
	br := bufio.NewReader(resp.Body)
	var page strings.Builder
	sawHeadlinesEarly := false
	for {
		chunk, err := br.ReadString('>')
		page.WriteString(chunk)
		if !sawHeadlinesEarly && strings.Contains(page.String(), `data-fragment="headlines"`) && !strings.Contains(page.String(), `data-slot="weather"`) {
			sawHeadlinesEarly = time.Since(start) < timeout
		}
		if err != nil {
			break
		}
	}
	body := page.String()
	if !strings.Contains(body, `class="frag-fallback" data-fragment="shows"`) {
		t.Fatalf("hung shows fragment not replaced by its fallback")
	}
	if !strings.Contains(body, "</html>") {
		t.Fatal("page did not complete")
	}
	if !sawHeadlinesEarly {
		t.Errorf("headlines did not arrive before the shows timeout (%s)", timeout)
	}
}

func TestNewShowAppearsAtOnce(t *testing.T) {
	rs := redistest.Start(t)
	env := map[string]string{"REDIS_URL": rs.URL(), "TESSERA_SHOWS_EDITOR_TOKEN": "editor-token"}
	site := testSite(t, env)
	base := "http://" + site.Composer.DisplayAddr()
	if _, doc := getDoc(t, base+"/"); doc.Find(`[data-fragment="shows"]`).Length() != 1 {
		t.Fatal("no shows fragment")
	}
	// The shows copy is now cached for its TTL (minutes).
	waitFor(t, 2*time.Second, func() bool {
		keys, _ := rs.Client(t).Keys(context.Background(), "tessera:f:shows:*").Result()
		return len(keys) >= 1
	})
	req, _ := http.NewRequest(http.MethodPost, site.Fragments.URL("shows")+"shows",
		strings.NewReader(`{"title":"Glacier Pilots","genre":"Adventure","year":2026,"episodes":6,"synopsis":"Bush pilots fly supplies onto the icefields of Alaska."}`))
	req.Header.Set("Authorization", "Bearer editor-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add show: %d", resp.StatusCode)
	}
	// The next page shows it: well within a second, not after the TTL.
	waitFor(t, time.Second, func() bool {
		_, doc := getDoc(t, base+"/")
		return strings.Contains(doc.Find(`[data-fragment="shows"]`).Text(), "Glacier Pilots")
	})
}

func TestFragmentRefusesBadCredentialsAndPageFallsBack(t *testing.T) {
	secrets := app.DevSecrets(func(string) string { return "" })
	wrong := secrets
	wrong.WeatherToken, wrong.ShowsSecret = "not-the-token", "not-the-secret"
	site, err := app.StartSite(app.SiteOptions{
		Composer: app.ComposerOptions{Addr: "127.0.0.1:0", Env: wrong.Env(func(string) string { return "" })},
		Fragments: app.FragmentsOptions{
			HeadlinesAddr: "127.0.0.1:0", WeatherAddr: "127.0.0.1:0", ShowsAddr: "127.0.0.1:0", TopbarAddr: "127.0.0.1:0",
			Secrets: secrets, ShowsStore: t.TempDir() + "/shows.jsonl",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	resp, doc := getDoc(t, "http://"+site.Composer.DisplayAddr()+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, name := range []string{"weather", "shows"} {
		if doc.Find(`[data-slot="`+name+`"] .frag-fallback`).Length() != 1 {
			t.Errorf("%s: no fallback although the fragment refused the composer's credentials", name)
		}
	}
	if doc.Find(`[data-slot="headlines"] [data-fragment="headlines"].frag-headlines`).Length() != 1 {
		t.Error("headlines (no auth) missing")
	}
	st := site.Composer.Stats("weather")
	if !strings.Contains(st.LastError, "401") || strings.Contains(st.LastError, "not-the-token") {
		t.Errorf("weather last error %q: want the 401, never the secret", st.LastError)
	}
}

func TestHeadlineLinksOpenTheStory(t *testing.T) {
	site := testSite(t, nil)
	base := "http://" + site.Composer.DisplayAddr()
	_, doc := getDoc(t, base+"/")
	lead := doc.Find(`[data-slot="headlines"] [data-testid="headline-lead"] a`).First()
	href, ok := lead.Attr("href")
	if !ok || !strings.HasPrefix(href, "/news/") {
		t.Fatalf("lead headline links to %q", href)
	}
	title := strings.TrimSpace(lead.Find(`[data-testid="headline-title"]`).Text())
	resp, story := getDoc(t, base+href)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", href, resp.StatusCode)
	}
	if got := strings.TrimSpace(story.Find(`[data-view="article"] [data-testid="headline-title"]`).Text()); got != title {
		t.Errorf("story page title %q, want %q", got, title)
	}
	if _, missing := getDoc(t, base+"/news/no-such-story"); !strings.Contains(missing.Find(`[data-view="article"]`).Text(), "Story not found") {
		t.Error("unknown story does not say so")
	}
}
