// Package logtest collects in tests what a process or server under test logs from its own
// goroutines. It is for tests only; nothing in a binary imports it.
package logtest

import (
	"bytes"
	"encoding/json"
	"sync"
)

// Buffer is a bytes.Buffer that goroutines may write to at once: the log sink of a server
// under test. Its zero value is empty and ready.
type Buffer struct {
	// Max, when not 0, is how much it keeps: once it holds more than Max bytes, further
	// writes are dropped (and reported as written), so that a chatty process cannot fill
	// the test's memory.
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Max > 0 && b.b.Len() > b.Max {
		return len(p), nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records returns the JSON log records written so far: each line that decodes as a JSON
// object.
func (b *Buffer) Records() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var recs []map[string]any
	for line := range bytes.Lines(b.b.Bytes()) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}
