package composer

import (
	"testing"
)

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
