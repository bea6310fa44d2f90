package config

import "testing"

func TestIsCrawler(t *testing.T) {
	s := &Site{crawlers: compileCrawlers(nil)}
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)":      true,
		"Mozilla/5.0 (compatible; bingbot/2.0)":                                         true,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36": false,
		"": false,
	} {
		if got := s.IsCrawler([]byte(ua)); got != want {
			t.Errorf("IsCrawler(%q) = %v", ua, got)
		}
	}
	if (&Site{crawlers: compileCrawlers([]string{})}).IsCrawler([]byte("Googlebot")) {
		t.Error("an empty crawler list still matched")
	}
}
