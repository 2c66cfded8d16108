package slogapp

import (
	"io"
	"sync"
	"time"
)

// BufferedWriter collects log records in memory and writes them on in batches: when the
// next record would not fit in the buffer, and every interval while it holds any. A record
// at least as large as the buffer is written on at once, after what was buffered. Records
// are never split: slog handlers write each record with one Write, and a batch is whole
// records. Close writes what is left; nothing written before Close is lost. Writes after
// Close go straight to the underlying writer.
//
// It is meant for the access log of a busy server, where a write system call per request
// costs more than the request: a record reaches the log at most interval later.
type BufferedWriter struct {
	wmu sync.Mutex // held while writing to w, so batches leave in order
	w   io.Writer

	mu     sync.Mutex // guards the fields below
	buf    []byte
	spare  []byte // the other buffer, written out while buf fills
	size   int
	closed bool
	err    error // the first write error, returned by Flush and Close

	stop chan struct{}
	done chan struct{}
}

// NewBufferedWriter returns a writer that buffers up to size bytes for w and flushes every
// interval (no timed flush when interval is not positive). Call Close when done.
func NewBufferedWriter(w io.Writer, size int, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{
		w: w, size: size,
		buf: make([]byte, 0, size), spare: make([]byte, 0, size),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if interval > 0 {
		go b.flushEvery(interval)
	} else {
		close(b.done)
	}
	return b
}

func (b *BufferedWriter) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Write buffers p, writing out the buffer first when p does not fit.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	if b.buffer(p) {
		return len(p), nil
	}
	// Full, closed, or too large: write out the batch, then p after it (buffered when it
	// fits an empty buffer and the writer is open).
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if err := b.writeOutLocked(); err != nil {
		return 0, err
	}
	if b.buffer(p) {
		return len(p), nil
	}
	return b.w.Write(p)
}

// buffer appends p to the buffer if the writer is open and p fits, and reports whether it did.
func (b *BufferedWriter) buffer(p []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || len(b.buf)+len(p) > b.size {
		return false
	}
	b.buf = append(b.buf, p...)
	return true
}

// Flush writes out what is buffered.
func (b *BufferedWriter) Flush() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.writeOutLocked()
}

// writeOutLocked swaps the buffers and writes the full one; the caller holds wmu. Writers
// go on filling the other buffer meanwhile.
func (b *BufferedWriter) writeOutLocked() error {
	b.mu.Lock()
	out := b.buf
	b.buf = b.spare[:0]
	b.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = b.w.Write(out)
	}
	b.mu.Lock()
	b.spare = out[:0]
	if err != nil && b.err == nil {
		b.err = err
	}
	err = b.err
	b.mu.Unlock()
	return err
}

// Close stops the timed flush and writes out what is buffered. It may be called more than
// once.
func (b *BufferedWriter) Close() error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.mu.Unlock()
	if !already {
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}
