package fdo

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Cache keeps parsed records in front of a [Source] for a time to live, up to a number of
// entries (the oldest goes first). Concurrent misses of one id share one fetch: the fetch runs
// on its own goroutine and is cancelled only when every caller waiting for it has gone.
// Failed fetches are not cached, so an object that appears at the source is seen at once.
// A Cache is safe for concurrent use.
type Cache struct {
	src        Source
	ttl        time.Duration
	maxEntries int
	metrics    *CacheMetrics // nil: not counted
	parse      func([]byte) (Record, error)

	mu      sync.Mutex
	entries map[string]*list.Element // guarded by mu; values are *entry
	order   *list.List               // guarded by mu; oldest insertion first
	calls   map[string]*call         // guarded by mu; fetches in flight
}

type entry struct {
	qid     string
	rec     Record
	expires time.Time
}

// call is one fetch in flight. rec and err are written before done is closed.
type call struct {
	done    chan struct{}
	rec     Record
	err     error
	cancel  context.CancelFunc
	waiters int  // guarded by Cache.mu
	purged  bool // guarded by Cache.mu: do not store the result
}

// NewCache returns a cache in front of src. A ttl or maxEntries of 0 or less disables
// caching, but concurrent misses still share one fetch.
func NewCache(src Source, ttl time.Duration, maxEntries int, opts ...CacheOption) *Cache {
	c := &Cache{
		src:        src,
		ttl:        ttl,
		maxEntries: maxEntries,
		entries:    make(map[string]*list.Element),
		order:      list.New(),
		calls:      make(map[string]*call),
		parse:      ParseRecord,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// NewTypeCache returns a cache of type records in front of ts, keyed by type id
// ("ScholarlyArticle"); the records are parsed with [ParseTypeRecord].
func NewTypeCache(ts TypeSource, ttl time.Duration, maxEntries int, opts ...CacheOption) *Cache {
	c := NewCache(typeRecords{ts}, ttl, maxEntries, opts...)
	c.parse = ParseTypeRecord
	return c
}

// Record returns the parsed record of a normalised QID, and whether it came from the cache.
// The returned Record shares memory with the cache: do not modify it. Source errors are
// returned wrapped; a record that does not parse gives an error wrapping ErrMalformed; a done
// ctx gives ctx.Err().
func (c *Cache) Record(ctx context.Context, qid string) (Record, bool, error) {
	c.mu.Lock()
	if el, ok := c.entries[qid]; ok {
		e := el.Value.(*entry)
		if time.Now().Before(e.expires) {
			c.mu.Unlock()
			c.metrics.lookup(true)
			return e.rec, true, nil
		}
		c.removeLocked(el)
	}
	c.metrics.lookup(false)
	cl, ok := c.calls[qid]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), cancel: cancel}
		c.calls[qid] = cl
		go c.fetch(fctx, qid, cl)
	}
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.rec, false, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		cl.waiters--
		if cl.waiters == 0 {
			// Nobody wants the answer any more: stop the fetch, and let the next caller
			// start a fresh one rather than join a cancelled one.
			cl.cancel()
			if c.calls[qid] == cl {
				delete(c.calls, qid)
			}
		}
		c.mu.Unlock()
		return Record{}, false, ctx.Err()
	}
}

func (c *Cache) fetch(ctx context.Context, qid string, cl *call) {
	defer cl.cancel()
	raw, err := c.src.Record(ctx, qid)
	var rec Record
	if err == nil {
		rec, err = c.parse(raw)
		if err != nil {
			err = fmt.Errorf("fdo: record %s: %w", qid, err)
		}
	}
	c.metrics.fetched(err)
	c.mu.Lock()
	if c.calls[qid] == cl {
		delete(c.calls, qid)
	}
	if err == nil && !cl.purged {
		c.storeLocked(qid, rec)
	}
	cl.rec, cl.err = rec, err
	c.mu.Unlock()
	close(cl.done)
}

func (c *Cache) storeLocked(qid string, rec Record) {
	if c.ttl <= 0 || c.maxEntries <= 0 {
		return
	}
	e := &entry{qid: qid, rec: rec, expires: time.Now().Add(c.ttl)}
	if el, ok := c.entries[qid]; ok {
		c.removeLocked(el)
	}
	c.entries[qid] = c.order.PushBack(e)
	for c.order.Len() > c.maxEntries {
		c.removeLocked(c.order.Front())
	}
}

func (c *Cache) removeLocked(el *list.Element) {
	delete(c.entries, el.Value.(*entry).qid)
	c.order.Remove(el)
}

// Purge drops the cached record of a normalised QID and reports whether there was one. A
// fetch of it in flight is not cached when it ends, and later callers start a new fetch.
func (c *Cache) Purge(qid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.calls[qid]; ok {
		cl.purged = true
		delete(c.calls, qid)
	}
	el, ok := c.entries[qid]
	if ok {
		c.removeLocked(el)
	}
	return ok
}

// Len returns the number of cached records, expired ones included until they are looked up.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
