package mardijson

import (
	"encoding/json"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// The answers to writes, with the keys and key order of MaRDI's server (release 2026.06)
// where it has the operation: create {"operation","status":"created","qid"}; update of a
// component {"operation","status":"committed","objectId","componentId","mediaType","size",
// "branch","commitId"}; update of properties {"operation","status":"updated","objectId"}.
// Delete and history are the gateway's own.

type createMeta struct {
	Operation string `json:"operation"`
	Status    string `json:"status"`
	QID       string `json:"qid"`
}

type updateComponentMeta struct {
	Operation   string `json:"operation"`
	Status      string `json:"status"`
	ObjectID    string `json:"objectId"`
	ComponentID string `json:"componentId"`
	MediaType   string `json:"mediaType"`
	Size        int64  `json:"size"`
	Branch      string `json:"branch"`
	CommitID    string `json:"commitId"`
}

type updateMeta struct {
	Operation string `json:"operation"`
	Status    string `json:"status"`
	ObjectID  string `json:"objectId"`
	CommitID  string `json:"commitId,omitempty"`
}

type historyMeta struct {
	Operation     string             `json:"operation"`
	Status        string             `json:"status"`
	ObjectID      string             `json:"objectId"`
	Versions      []doip.VersionInfo `json:"versions"`
	NextPageToken string             `json:"nextPageToken,omitempty"`
}

// WriteJSON renders the answer to a create, an update, a delete or a history request as one
// metadata block's JSON, and the object id the answer's header names. It reports false for
// any other response.
func WriteJSON(op doip.Op, resp *doip.Response) (json.RawMessage, string, bool, error) {
	var (
		v  any
		id = resp.ObjectID
	)
	switch w := resp.Written; {
	case resp.History != nil:
		h := resp.History
		vs := h.Versions
		if vs == nil {
			vs = []doip.VersionInfo{}
		}
		v = historyMeta{Operation: "history", Status: "ok", ObjectID: h.ObjectID, Versions: vs, NextPageToken: h.NextPageToken}
	case w == nil:
		return nil, "", false, nil
	case w.Deleted:
		v = updateMeta{Operation: "delete", Status: "deleted", ObjectID: id, CommitID: w.Version}
	case op == doip.OpCreate:
		v = createMeta{Operation: "create", Status: "created", QID: id}
	case len(w.Stored) == 1:
		s := w.Stored[0]
		v = updateComponentMeta{Operation: "update", Status: "committed", ObjectID: id, ComponentID: s.ID,
			MediaType: s.MediaType, Size: s.Size, Branch: w.Branch, CommitID: w.Version}
	default:
		v = updateMeta{Operation: "update", Status: "updated", ObjectID: id}
	}
	js, err := Marshal(v)
	return js, id, true, err
}
