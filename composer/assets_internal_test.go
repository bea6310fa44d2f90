package composer

import (
	"strconv"
	"testing"
	"time"
)

// TestAssetMisses: a failed asset is remembered for the window and no
// longer; at the bound, expired entries make room and fresh ones are kept.
func TestAssetMisses(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var m assetMisses
	m.note("a", t0)
	for _, tt := range []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", assetMissWindow - time.Nanosecond, true},
		{"a", assetMissWindow, false},
		{"b", 0, false},
	} {
		if got := m.missed(tt.key, t0.Add(tt.at)); got != tt.want {
			t.Errorf("missed(%q, +%s) = %v, want %v", tt.key, tt.at, got, tt.want)
		}
	}
	for i := range maxAssetMisses - 1 {
		m.note("k"+strconv.Itoa(i), t0.Add(time.Second))
	}
	m.note("full", t0.Add(time.Second))
	if m.missed("full", t0.Add(time.Second)) || len(m.until) != maxAssetMisses {
		t.Fatalf("at the bound with nothing expired: %d remembered, new key kept %v", len(m.until), m.missed("full", t0.Add(time.Second)))
	}
	later := t0.Add(assetMissWindow) // "a" has expired, the others not
	m.note("next", later)
	if !m.missed("next", later) || len(m.until) != maxAssetMisses {
		t.Fatalf("an expired entry did not make room: %d remembered", len(m.until))
	}
}
