package dispatch

import (
	"context"
	"errors"
	"io"
	"maps"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
)

// search runs a search on the search service and hands its hits to the codec one at a time,
// as they arrive: a page is never gathered here. The whole answer runs under CallTimeout.
func (d *Dispatcher) search(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	if d.Search == nil {
		return doip.Errorf(doip.KindUnsupported, "search is not available on this service")
	}
	sr := req.Search
	if sr != nil && sr.Invalid != nil {
		return sr.Invalid
	}
	if sr == nil || (sr.Query == "" && sr.ProfileType == "") {
		return doip.Errorf(doip.KindBadRequest, "Missing query")
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout())
	defer cancel()
	in := &searchv1.SearchRequest{Query: sr.Query, PageNum: int32(sr.PageNum), PageSize: int32(sr.PageSize),
		IdsOnly: sr.IDsOnly, ProfileType: sr.ProfileType}
	for _, f := range sr.SortFields {
		in.SortFields = append(in.SortFields, &searchv1.SortField{Field: f.Field, Descending: f.Desc})
	}
	stream, err := d.Search.Search(cctx, in)
	if err != nil {
		return errorFromStatus(err, "search service")
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return doip.Errorf(doip.KindInternal, "search service sent no answer")
		}
		return errorFromStatus(err, "search service")
	}
	head := first.GetHeader()
	if head == nil {
		return doip.Errorf(doip.KindInternal, "search service sent a hit before its header")
	}
	res := &doip.SearchResult{Size: head.GetSize(), Request: *sr}
	res.Hits = func(yield func(*doip.SearchHit, error) bool) {
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, errorFromStatus(err, "search service"))
				return
			}
			if h := m.GetHit(); h != nil && !yield(searchHit(h), nil) {
				return
			}
		}
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Search: res})
}

// searchHit turns a hit of the search service into the model's.
func searchHit(h *searchv1.SearchHit) *doip.SearchHit {
	out := &doip.SearchHit{ID: h.GetObjectId(), Title: h.GetTitle(), Snippet: h.GetSnippet(), Timestamp: h.GetTimestamp(), Score: h.GetScore()}
	if len(h.GetRecordJson()) > 0 {
		r := &doip.Record{ObjectID: h.GetObjectId(), JSON: h.GetRecordJson(), Type: h.GetObjectType()}
		for _, c := range h.GetComponents() {
			r.Components = append(r.Components, doip.ComponentInfo{ID: c.GetComponentId(), MediaType: c.GetMediaType(), Filename: c.GetFilename(), Size: -1})
		}
		out.Record = r
	}
	if e := h.GetEquation(); e != nil {
		out.Equation = &doip.EquationHit{Number: e.GetNumber(), Page: int(e.GetPage()), LaTeX: e.GetLatex(), Overlap: e.GetOverlap()}
	}
	return out
}

// serviceOperations is the operation map of the service: [Operations], create and update
// (as MaRDI's server announces them in hello), and search when a search service is
// configured (search is an operation of the service, not of objects). It is made on the
// first call, from the Dispatcher as configured then, and shared by every answer after:
// callers must not change it.
func (d *Dispatcher) serviceOperations() map[string]doip.Op {
	d.opsOnce.Do(func() {
		ops := make(map[string]doip.Op, len(Operations)+3)
		maps.Copy(ops, Operations)
		ops[doip.OpCreate.String()] = doip.OpCreate
		ops[doip.OpUpdate.String()] = doip.OpUpdate
		if d.Search != nil {
			ops[doip.OpSearch.String()] = doip.OpSearch
		}
		d.ops = ops
	})
	return d.ops
}
