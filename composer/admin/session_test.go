package admin

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSessionValues(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := NewSessions("t0k", SessionOptions{TTL: time.Hour})
	s.now = func() time.Time { return now }
	good := s.sign(now.Add(time.Hour).Unix())
	exp, rest, _ := strings.Cut(good, ".")
	nonce, mac, _ := strings.Cut(rest, ".")
	other := NewSessions("t0k", SessionOptions{TTL: time.Hour}) // another composer with the same token
	other.now = s.now
	rotated := NewSessions("new-t0k", SessionOptions{TTL: time.Hour})
	rotated.now = s.now
	noToken := NewSessions("", SessionOptions{TTL: time.Hour})

	tests := []struct {
		name  string
		s     *Sessions
		value string
		want  bool
	}{
		{"good", s, good, true},
		{"another composer, same token", other, good, true},
		{"after the token changed", rotated, good, false},
		{"no token configured", noToken, good, false},
		{"expired", s, s.sign(now.Unix()), false},
		{"later expiry, same signature", s, strconv.FormatInt(now.Add(48*time.Hour).Unix(), 10) + "." + nonce + "." + mac, false},
		{"other nonce", s, exp + ".AAAAAAAAAAAAAAAAAAAAAA." + mac, false},
		{"no signature", s, exp + "." + nonce, false},
		{"bad base64", s, exp + "." + nonce + ".!!", false},
		{"empty", s, "", false},
		{"the token", s, "t0k", false},
		{"too long", s, good + strings.Repeat("A", 200), false},
	}
	for _, tt := range tests {
		if got := tt.s.valid([]byte(tt.value)); got != tt.want {
			t.Errorf("%s: valid(%q) = %v; want %v", tt.name, tt.value, got, tt.want)
		}
	}
	if a, b := s.sign(1), s.sign(1); a == b {
		t.Error("two sessions with the same expiry are the same session")
	}
	if s.csrf([]byte(good)) == s.csrf([]byte(s.sign(now.Add(time.Hour).Unix()))) {
		t.Error("two sessions share a CSRF token")
	}
}
