package logtest

import (
	"fmt"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "{\"n\":%d}\n", i) })
	}
	wg.Wait()
	b.Write([]byte("not json\n"))
	if recs := b.Records(); len(recs) != 4 {
		t.Errorf("Records = %v, want the 4 JSON lines", recs)
	}
	if s := b.String(); len(s) == 0 {
		t.Error("String is empty")
	}
}

func TestBufferMax(t *testing.T) {
	t.Parallel()
	b := Buffer{Max: 4}
	for range 3 {
		if n, err := b.Write([]byte("abc")); n != 3 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := b.String(); got != "abcabc" {
		t.Errorf("String = %q, want the writes up to the first past Max", got)
	}
}
