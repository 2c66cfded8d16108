package retrieve

import (
	"container/list"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// blobCache keeps the bytes of small components in memory for a short time, so that a
// popular small component is not fetched from storage (an S3 round trip) on every request.
// It is bounded in total bytes, in the size of one entry and in age; the oldest entries are
// evicted first. Writes through this service drop the entry they replace.
type blobCache struct {
	maxBytes, maxItem int64
	ttl               time.Duration
	now               func() time.Time

	mu    sync.Mutex // guards everything below
	items map[string]*list.Element
	lru   *list.List // front: most recently used
	total int64
}

type blobEntry struct {
	key     string
	data    []byte
	info    storage.ObjectInfo
	expires time.Time
}

// newBlobCache returns a cache of at most maxBytes, entries of at most maxItem bytes, each
// kept for ttl; nil when any bound is zero (no cache).
func newBlobCache(maxBytes, maxItem int64, ttl time.Duration) *blobCache {
	if maxBytes <= 0 || maxItem <= 0 || ttl <= 0 {
		return nil
	}
	return &blobCache{maxBytes: maxBytes, maxItem: min(maxItem, maxBytes), ttl: ttl, now: time.Now,
		items: make(map[string]*list.Element), lru: list.New()}
}

// fits reports whether an object of size n would be cached.
func (c *blobCache) fits(n int64) bool { return c != nil && n <= c.maxItem }

// get returns a fresh entry's bytes; they must not be modified.
func (c *blobCache) get(key string) ([]byte, storage.ObjectInfo, bool) {
	if c == nil {
		return nil, storage.ObjectInfo{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, storage.ObjectInfo{}, false
	}
	e := el.Value.(*blobEntry)
	if c.now().After(e.expires) {
		c.remove(el)
		return nil, storage.ObjectInfo{}, false
	}
	c.lru.MoveToFront(el)
	return e.data, e.info, true
}

// put stores data (which the cache now owns) if it fits.
func (c *blobCache) put(key string, data []byte, info storage.ObjectInfo) {
	if c == nil || int64(len(data)) > c.maxItem {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	c.items[key] = c.lru.PushFront(&blobEntry{key: key, data: data, info: info, expires: c.now().Add(c.ttl)})
	c.total += int64(len(data))
	for c.total > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

// drop forgets key.
func (c *blobCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
}

func (c *blobCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*blobEntry)
	delete(c.items, e.key)
	c.total -= int64(len(e.data))
}
