package retrieve

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

func TestBlobCache(t *testing.T) {
	t.Parallel()
	if newBlobCache(0, 10, time.Second) != nil || newBlobCache(10, 10, 0) != nil {
		t.Error("a zero bound must mean no cache")
	}
	var nilCache *blobCache
	nilCache.put("k", []byte("x"), storage.ObjectInfo{})
	if _, _, ok := nilCache.get("k"); ok || nilCache.fits(1) {
		t.Error("a nil cache holds nothing")
	}

	now := time.Unix(1000, 0)
	c := newBlobCache(10, 4, time.Minute)
	c.now = func() time.Time { return now }
	c.put("a", []byte("aaaa"), storage.ObjectInfo{Size: 4})
	c.put("big", []byte("bbbbb"), storage.ObjectInfo{Size: 5}) // over maxItem: not kept
	if _, _, ok := c.get("big"); ok {
		t.Error("an entry over the item bound was kept")
	}
	c.put("b", []byte("bbbb"), storage.ObjectInfo{})
	c.get("a")                                       // a is now the most recent
	c.put("c", []byte("cccc"), storage.ObjectInfo{}) // 12 bytes > 10: evicts b, the least recent
	if _, _, ok := c.get("b"); ok {
		t.Error("the least recently used entry survived eviction")
	}
	if d, info, ok := c.get("a"); !ok || !bytes.Equal(d, []byte("aaaa")) || info.Size != 4 {
		t.Errorf("a = %q %v %v", d, info, ok)
	}
	if c.total != 8 {
		t.Errorf("total = %d, want 8", c.total)
	}
	c.drop("a")
	if _, _, ok := c.get("a"); ok {
		t.Error("a dropped entry is still there")
	}
	now = now.Add(2 * time.Minute)
	if _, _, ok := c.get("c"); ok || c.total != 0 {
		t.Errorf("an expired entry was served; total %d", c.total)
	}
}

func TestStreamComponentFromCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, WithComponentCache(1<<20, 64<<10, time.Hour))
	read := func(id string, rng *retrievev1.ByteRange, direct bool) []byte {
		t.Helper()
		_, data, _, err := collectData(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: id, Range: rng, AllowDirect: direct})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for range 3 {
		if got := read("digits", nil, true); string(got) != "0123456789" {
			t.Fatalf("digits = %q", got)
		}
	}
	if n := strings.Count(f.logs.String(), "cache_hit=true"); n != 2 {
		t.Errorf("%d reads from memory, want 2 (the first fills the cache; small ones are not handed off)", n)
	}
	start, end := int64(3), int64(5)
	if got := read("digits", &retrievev1.ByteRange{Start: &start, End: &end}, false); string(got) != "345" {
		t.Errorf("range from memory = %q", got)
	}
	// A derived write replaces what the cache holds.
	const id = "derived/equation_extraction/equations.json"
	before := read(id, nil, false)
	if _, err := write(t, f, header("Q123", "equation_extraction", "equations.json", 9), chunk([]byte(`{"new":1}`))); err != nil {
		t.Fatal(err)
	}
	if after := read(id, nil, false); string(after) != `{"new":1}` || bytes.Equal(after, before) {
		t.Errorf("after a write the cache served %q", after)
	}
	// Objects over the item bound are handed off, not cached.
	if _, data, _, err := collectData(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "big.bin", AllowDirect: true}); err != nil || len(data) != 0 {
		t.Errorf("a large object was not handed off: %d bytes streamed, %v", len(data), err)
	}
}
