package composer

import "testing"

func TestPatchScriptUnderOneKB(t *testing.T) {
	if n := len(appendPatchScript(nil, "")) + len(appendPatchClose(nil, "")); n >= 1024 {
		t.Fatalf("out-of-order script is %d bytes, want under 1 KB", n)
	}
}

func TestBodyClose(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"</main></body></html>", 7},
		{"x</BODY>", 1},
		{"</body>a</body>", 8},
		{"no close", 8},
		{"", 0},
	} {
		if got := bodyClose([]byte(tt.in)); got != tt.want {
			t.Errorf("bodyClose(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestIsCrawler(t *testing.T) {
	s := &Site{crawlers: compileCrawlers(nil)}
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)":      true,
		"Mozilla/5.0 (compatible; bingbot/2.0)":                                         true,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36": false,
		"": false,
	} {
		if got := s.isCrawler([]byte(ua)); got != want {
			t.Errorf("isCrawler(%q) = %v", ua, got)
		}
	}
	if (&Site{crawlers: compileCrawlers([]string{})}).isCrawler([]byte("Googlebot")) {
		t.Error("an empty crawler list still matched")
	}
}
