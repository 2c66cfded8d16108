package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/access"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// writeChunk is the size of the chunks an upload is sent to the retrieve service in.
const writeChunk = 256 << 10

// identify returns who the client is and checks that it may do req.Op. Without an access
// policy, the configured Tokens guard invoke and purge as they always did, and nobody may
// write. A client whose credentials fail is served anonymously where that suffices (a
// retrieve that sent a stale token), else refused.
func (d *Dispatcher) identify(ctx context.Context, req *doip.Request) (access.Identity, error) {
	if d.Access == nil {
		if err := d.authenticate(req); err != nil {
			return access.Identity{}, err
		}
		id := access.Identity{Name: clientIdentity(req.Token), Permissions: access.Read | access.Invoke | access.Admin}
		if access.Needed(req.Op) == access.Write {
			return id, doip.Errorf(doip.KindForbidden, "%s needs the write permission, and no identity has it: configure a user (USERS), a token (ACCESS_TOKENS or AUTH_TOKENS) or an OIDC issuer", req.Op)
		}
		return id, nil
	}
	id, err := d.Access.Authenticate(ctx, req.Username, req.Token)
	if err != nil {
		anon, _ := d.Access.Authenticate(ctx, "", "")
		if d.Access.Allow(anon, req.Op) == nil {
			return anon, nil
		}
		return id, err
	}
	return id, d.Access.Allow(id, req.Op)
}

// write sends a create or an update to the retrieve service: the object's description, then
// each element's bytes as they arrive from the client. Any failure cancels the stream, and
// the retrieve service then commits nothing.
func (d *Dispatcher) write(ctx context.Context, w doip.ResponseWriter, req *doip.Request, id access.Identity) error {
	wr := req.Write
	if wr == nil {
		return doip.Errorf(doip.KindBadRequest, "%s carries no digital object", req.Op)
	}
	if req.Op == doip.OpUpdate && d.isServiceTarget(req.ObjectID) {
		return doip.Errorf(doip.KindUnsupported, "the service itself cannot be updated: name an object")
	}
	h := &retrievev1.ObjectHeader{
		Create: req.Op == doip.OpCreate, ObjectId: req.ObjectID, Type: wr.Object.Type,
		AttributesJson: wr.Object.Attributes, RemoveElements: wr.RemoveElements,
		ExpectedVersion: wr.ExpectedVersion, Author: id.Name,
	}
	if h.Create && d.isServiceTarget(h.ObjectId) {
		h.ObjectId = ""
	}
	for _, e := range wr.Object.Elements {
		h.Elements = append(h.Elements, &retrievev1.ElementDescriptor{Id: e.ID, MediaType: e.MediaType, AttributesJson: e.Attributes})
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := d.Retrieve.WriteObject(sctx)
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	if err := stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Object{Object: h}}); err != nil {
		return d.writeFailed(stream, cancel, err)
	}
	var (
		buf   []byte
		total int64
		start = time.Now()
	)
	for wr.Elements != nil {
		up, err := wr.Elements.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cancel()
			return clientInputError(err)
		}
		if err := stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Element{Element: &retrievev1.ElementHeader{
			Id: up.ID, Size: up.Size, MediaType: up.MediaType}}}); err != nil {
			return d.writeFailed(stream, cancel, err)
		}
		if buf == nil {
			buf = make([]byte, writeChunk)
		}
		for {
			n, rerr := fill(up.Body, buf)
			if n > 0 {
				total += int64(n)
				if err := stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Chunk{Chunk: buf[:n]}}); err != nil {
					return d.writeFailed(stream, cancel, err)
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				cancel()
				return clientInputError(rerr)
			}
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	d.logger().InfoContext(ctx, "object written", slog.String("op", req.Op.String()), slog.String("object", resp.GetRecord().GetObjectId()),
		slog.String("author", id.Name), slog.Int64("bytes", total), slog.Duration("took", time.Since(start)), slog.String("version", resp.GetVersion()))
	result := &doip.WriteResult{Version: resp.GetVersion(), Branch: "main"}
	rec := resp.GetRecord()
	if rec.GetObjectType() != "" || len(rec.GetRecordJson()) > 0 {
		result.Record = recordOf(rec)
		content := rec.GetRecordJson()
		if len(content) == 0 {
			content = []byte("{}")
		}
		result.Attributes, _ = json.Marshal(map[string]json.RawMessage{"content": content})
	}
	for _, s := range resp.GetStored() {
		result.Stored = append(result.Stored, doip.ComponentInfo{ID: s.GetComponentId(), Size: s.GetSize(), MediaType: mediaTypeOf(rec, s.GetComponentId())})
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: rec.GetObjectId(), Written: result})
}

// mediaTypeOf finds a component's media type in a record.
func mediaTypeOf(rec *retrievev1.GetRecordResponse, id string) string {
	for _, c := range rec.GetComponents() {
		if c.GetComponentId() == id {
			return c.GetMediaType()
		}
	}
	return ""
}

// writeFailed ends a write whose stream to the retrieve service broke: the service's own
// error says why.
func (d *Dispatcher) writeFailed(stream interface {
	CloseAndRecv() (*retrievev1.WriteObjectResponse, error)
}, cancel context.CancelFunc, err error) error {
	if _, rerr := stream.CloseAndRecv(); rerr != nil {
		err = rerr
	}
	cancel()
	return errorFromStatus(err, "retrieve service")
}

// clientInputError is what a client whose input broke is told: the codec's own words for a
// malformed or too large input; a connection that failed gets no answer it could read.
func clientInputError(err error) error {
	var e *doip.Error
	if errors.As(err, &e) {
		return e
	}
	return doip.Errorf(doip.KindBadRequest, "the request's input ended early: %v", err)
}

// recordOf turns a record answer into the model's record.
func recordOf(rec *retrievev1.GetRecordResponse) *doip.Record {
	r := &doip.Record{ObjectID: rec.GetObjectId(), JSON: rec.GetRecordJson(), Type: rec.GetObjectType(), Version: rec.GetVersion()}
	for _, c := range rec.GetComponents() {
		size := int64(-1)
		if c.Size != nil {
			size = c.GetSize()
		}
		r.Components = append(r.Components, doip.ComponentInfo{ID: c.GetComponentId(), MediaType: c.GetMediaType(), Filename: c.GetFilename(), Size: size})
	}
	return r
}

func (d *Dispatcher) deleteObject(ctx context.Context, w doip.ResponseWriter, req *doip.Request, id access.Identity) error {
	if d.isServiceTarget(req.ObjectID) {
		return doip.Errorf(doip.KindUnsupported, "the service itself cannot be deleted")
	}
	expected := ""
	if req.Write != nil {
		expected = req.Write.ExpectedVersion
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout())
	defer cancel()
	resp, err := d.Retrieve.DeleteObject(cctx, &retrievev1.DeleteObjectRequest{ObjectId: req.ObjectID, ExpectedVersion: expected, Author: id.Name})
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	d.logger().InfoContext(ctx, "object deleted", slog.String("object", req.ObjectID), slog.String("author", id.Name), slog.String("version", resp.GetVersion()))
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Written: &doip.WriteResult{Deleted: true, Version: resp.GetVersion(), Branch: "main"}})
}

func (d *Dispatcher) history(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	if d.isServiceTarget(req.ObjectID) {
		return doip.Errorf(doip.KindBadRequest, "history needs an object id")
	}
	q, err := doip.ParseHistoryQuery(req.Params)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout())
	defer cancel()
	resp, err := d.Retrieve.ListVersions(cctx, &retrievev1.ListVersionsRequest{ObjectId: req.ObjectID, PageSize: int32(q.PageSize), PageToken: q.PageToken})
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	h := &doip.History{ObjectID: req.ObjectID, NextPageToken: resp.GetNextPageToken(), Versions: []doip.VersionInfo{}}
	for _, v := range resp.GetVersions() {
		h.Versions = append(h.Versions, doip.VersionInfo{Version: v.GetVersion(), Time: time.Unix(v.GetTimeUnix(), 0).UTC(),
			Author: v.GetAuthor(), Message: v.GetMessage(), Change: v.GetChange()})
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, History: h})
}

// fill reads into buf until it is full or the reader fails, and returns that failure as the
// reader gave it (io.EOF at the end).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
