package dashboard

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/admin"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ got, want string }{
		{latency(0), "–"},
		{latency(420 * time.Microsecond), "0.4 ms"},
		{latency(12345 * time.Microsecond), "12 ms"},
		{latency(1500 * time.Millisecond), "1.50 s"},
		{percent(-1), "–"},
		{percent(0), "0%"},
		{percent(0.0004), "<0.1%"},
		{percent(0.6667), "66.7%"},
		{percent(0.9996), ">99.9%"},
		{percent(1), "100%"},
		{count(0), "0"},
		{count(999), "999"},
		{count(1234567), "1,234,567"},
		{ago(300 * time.Millisecond), "just now"},
		{ago(42 * time.Second), "42s ago"},
		{ago(3 * time.Hour), "3h ago"},
		{ago(72 * time.Hour), "3d ago"},
		{percentOf(SlowShare), "80%"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}

func TestVersionsMostAnswersFirst(t *testing.T) {
	t.Parallel()
	got := versions(map[string]uint64{"1.4.0": 3, "1.5.0": 9, "1.3.9": 3})
	want := []Version{{"1.5.0", 9, false}, {"1.3.9", 3, true}, {"1.4.0", 3, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if got := versions(nil); len(got) != 0 {
		t.Errorf("no versions: %v", got)
	}
}

func TestOverKeysCell(t *testing.T) {
	t.Parallel()
	f := fragment(admin.Fragment{Name: "headlines", Timeout: "800ms"}, composer.FragmentStats{OverKeys: 1234}, time.Now())
	if got, want := f.Cells["overkeys"], "1,234 answers not cached: key bound reached"; got != want {
		t.Errorf("overkeys = %q, want %q", got, want)
	}
	if f := fragment(admin.Fragment{Name: "weather"}, composer.FragmentStats{}, time.Now()); f.Cells["overkeys"] != "" {
		t.Errorf("overkeys = %q for a fragment under its bound, want empty", f.Cells["overkeys"])
	}
}
