package rediscache_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tessera-dev/tessera/composer"
	"github.com/tessera-dev/tessera/composer/rediscache"
	"github.com/tessera-dev/tessera/composer/zparts"
	"github.com/tessera-dev/tessera/internal/protocol"
)

func TestEntryRoundTrip(t *testing.T) {
	e := &composer.Entry{Body: []byte("<p>hi</p>"), Version: "1.2.3", Stored: time.UnixMilli(1_700_000_000_123), MaxAge: 30 * time.Second, SWR: time.Minute, SIE: time.Hour}
	got, err := rediscache.DecodeEntry(rediscache.AppendEntry(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e, got); d != "" {
		t.Fatalf("-want +got\n%s", d)
	}
	for _, bad := range [][]byte{nil, []byte("T"), []byte("X1xxxxxxxxxxxxxxxxxxxxxxx"), append(rediscache.AppendEntry(nil, e)[:22], 200)} {
		if _, err := rediscache.DecodeEntry(bad); !errors.Is(err, rediscache.ErrBadEntry) {
			t.Errorf("DecodeEntry(%q) err = %v", bad, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(rediscache.AppendEntry(nil, &composer.Entry{Body: []byte("x"), Version: "1.0.0", Stored: time.Now()}))
	f.Add(rediscache.AppendEntry(nil, &composer.Entry{Body: []byte("x"), Stored: time.Now(), Meta: &composer.Meta{Status: 301, Location: "/x", Head: composer.Head{Title: "t"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := rediscache.DecodeEntry(b)
		if err != nil {
			return
		}
		again, err := rediscache.DecodeEntry(rediscache.AppendEntry(nil, e))
		if err != nil || !bytes.Equal(again.Body, e.Body) || again.Version != e.Version || !reflect.DeepEqual(again.Meta, e.Meta) {
			t.Fatalf("re-encoding changed the entry: %v", err)
		}
	})
}

func TestEntryWireFormatCarriesTheBlock(t *testing.T) {
	body := []byte(strings.Repeat("<p>fragment</p>", 50))
	e := &composer.Entry{Body: body, Version: "1.2.0", Stored: time.UnixMilli(1700000000000), MaxAge: time.Minute}
	v1 := rediscache.AppendEntry(nil, e)
	if v1[1] != 1 {
		t.Fatalf("an entry without a block is written as version %d", v1[1])
	}
	e.Block = zparts.NewBlock(body)
	v2 := rediscache.AppendEntry(nil, e)
	if v2[1] != 2 {
		t.Fatalf("an entry with a block is written as version %d", v2[1])
	}
	e.Meta = &composer.Meta{Status: 404, Assets: []protocol.Asset{{Kind: protocol.Stylesheet, Path: "/assets/a.1a2b3c4d.css"}}, Head: composer.Head{Title: "Story not found"}}
	v3 := rediscache.AppendEntry(nil, e)
	if v3[1] != 3 {
		t.Fatalf("an entry with a Meta is written as version %d", v3[1])
	}
	if got, err := rediscache.DecodeEntry(v3); err != nil || got.Block == nil || !bytes.Equal(got.Body, body) || !reflect.DeepEqual(got.Meta, e.Meta) {
		t.Fatalf("v3 decodes to %+v, %v", got, err)
	}
	for name, b := range map[string][]byte{"v1": v1, "v2": v2} {
		got, err := rediscache.DecodeEntry(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Body, body) || got.Version != "1.2.0" || got.MaxAge != time.Minute {
			t.Fatalf("%s decodes to %+v", name, got)
		}
		if (got.Block != nil) != (name == "v2") {
			t.Fatalf("%s: block %v", name, got.Block)
		}
	}
	// A block that does not decode is dropped, the entry is still read.
	bad := append([]byte{}, v2...)
	bad[len(bad)-len(body)-3] ^= 0xff
	if got, err := rediscache.DecodeEntry(bad); err != nil || got.Block != nil || !bytes.Equal(got.Body, body) {
		t.Fatalf("entry with a corrupt block: %+v, %v", got, err)
	}
}
