// Package changes is how retrieve-svc tells the parts that follow its storage (the search
// index) that an object changed: after every commit that creates, updates or deletes an
// object or adds derived components to it, the writer calls [Observer.Changed] once. An
// observer re-reads what it needs from storage at the change's version, so a change carries
// names, never bytes.
package changes

import "context"

// A Change is one commit that changed one object.
type Change struct {
	// ObjectID is the object's normalised id ("Q123").
	ObjectID string
	// Version is the commit that holds the change; empty on storage that keeps no versions.
	Version string
	// Deleted says the object is gone (its record and components), as of Version.
	Deleted bool
	// Record says the object's record changed (created or updated).
	Record bool
	// Components are the storage keys written or removed by the commit.
	Components []string
}

// An Observer learns of changes after they are committed. Changed must not block the writer
// for long: an observer that does slow work queues it. A failure is the observer's to log
// and to repair (the search index rebuilds from storage); it never undoes the commit.
type Observer interface {
	Changed(ctx context.Context, c Change)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(ctx context.Context, c Change)

// Changed calls f.
func (f ObserverFunc) Changed(ctx context.Context, c Change) { f(ctx, c) }

// Observers tells each of its observers, in order.
type Observers []Observer

// Changed tells every observer.
func (os Observers) Changed(ctx context.Context, c Change) {
	for _, o := range os {
		o.Changed(ctx, c)
	}
}
