package retrieve

import (
	"context"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
)

func TestChangedTellsTheObserver(t *testing.T) {
	var got []changes.Change
	s := &Server{}
	s.changed(context.Background(), changes.Change{ObjectID: "Q1"}) // no observer: no-op
	WithObserver(changes.ObserverFunc(func(_ context.Context, c changes.Change) { got = append(got, c) }))(s)
	s.changed(context.Background(), changes.Change{ObjectID: "Q1", Version: "c1", Components: []string{"k"}})
	if len(got) != 1 || got[0].ObjectID != "Q1" || got[0].Version != "c1" {
		t.Fatalf("observer saw %+v", got)
	}
}
