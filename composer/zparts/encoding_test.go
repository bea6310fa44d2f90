package zparts

import "testing"

func TestNegotiate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   Encoding
	}{
		{"", Identity},
		{"   ", Identity},
		{",,,", Identity},
		{"gzip", Gzip},
		{"zstd", Zstd},
		{"gzip, deflate, br, zstd", Gzip}, // Chromium: tie, gzip (stitched zstd is ~5% larger)
		{"gzip, deflate, br", Gzip},       // older browsers
		{"br", Identity},                  // a coding this package does not write
		{"deflate", Identity},
		{"GZIP", Gzip},
		{"ZsTd", Zstd},
		{"x-gzip", Gzip},
		{"X-GZIP;q=0.5", Gzip},
		{"\tgzip\t,\tzstd ", Gzip},
		{"gzip;q=1.0, zstd;q=0.5", Gzip},
		{"gzip;q=0.5, zstd;q=0.9", Zstd},
		{"gzip;q=0.8,zstd;q=0.8", Gzip},        // tie: gzip
		{"zstd;q=0, gzip", Gzip},               // q=0 refuses
		{"zstd;q=0.000, gzip;q=0.0", Identity}, // everything refused but identity
		{"gzip;q=0", Identity},
		{"gzip ; q=0.5", Gzip}, // whitespace around ';'
		{"gzip;Q=0.5", Gzip},   // parameter names are case-insensitive
		{"gzip; q = 0.5", Gzip},
		{"gzip;q=0.001", Gzip},             // any positive weight beats an unnamed identity
		{"gzip;q=0.5, identity", Identity}, // identity named with a higher weight
		{"gzip, identity", Gzip},           // tie with identity: compress
		{"identity", Identity},
		{"identity;q=0", Identity}, // nothing else to offer
		{"*", Gzip},
		{"*;q=0", Identity},
		{"*;q=0, gzip", Gzip},
		{"*, zstd;q=0", Gzip},         // the explicit refusal wins over *
		{"*;q=0.5, gzip;q=0.4", Zstd}, // zstd inherits * (0.5) over gzip (0.4)
		{"*;q=0.3, identity;q=0.9", Identity},
		{"gzip;q=2", Identity}, // malformed weights ignore the element
		{"gzip;q=1.5", Identity},
		{"gzip;q=abc, zstd", Zstd},
		{"gzip;q=.5", Identity},
		{"gzip;q=0.5000", Identity}, // more than three decimals
		{"gzip;q=", Identity},
		{"gzip;q=1.000", Gzip},
		{"gzip;q=0.", Identity},      // "0." is a valid zero weight
		{"gzip;level=9;q=0.7", Gzip}, // other parameters are skipped
		{"gzip;foo, zstd;q=0.1", Gzip},
		{"gzip;q=0.5, gzip;q=0", Gzip}, // the first listing counts
		{"gzipx, zstdy", Identity},
		{";q=1, gzip", Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := Negotiate([]byte(tt.header)); got != tt.want {
				t.Errorf("Negotiate(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
	if got := Negotiate(nil); got != Identity {
		t.Errorf("Negotiate(nil) = %s, want identity", got)
	}
}

func TestEncodingString(t *testing.T) {
	for e, want := range map[Encoding]string{Identity: "identity", Gzip: "gzip", Zstd: "zstd", 9: "unknown"} {
		if got := e.String(); got != want {
			t.Errorf("Encoding(%d).String() = %q, want %q", e, got, want)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "*;q=0, gzip;q=0.5", "x-gzip;Q=1.000", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		if e := Negotiate(h); !e.valid() {
			t.Fatalf("Negotiate(%q) = %d", h, e)
		}
	})
}

func BenchmarkNegotiate(b *testing.B) {
	for _, h := range []string{"gzip, deflate, br, zstd", "gzip;q=1.0, identity; q=0.5, *;q=0"} {
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			v := []byte(h)
			for b.Loop() {
				Negotiate(v)
			}
		})
	}
}
