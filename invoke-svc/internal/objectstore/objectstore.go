// Package objectstore is how workflows reach the objects they work on: records and source
// components are read, and derived components written, through the retrieve service. A
// worker holds no storage credentials of its own.
//
// Errors are classified for the invoke service: an unknown object or component wraps
// workflow.ErrNotFound, a retrieve service that is down or slow wraps
// workflow.ErrUnavailable, storage that is full, unwritable or refuses a path wraps
// workflow.ErrStorage, and a source over the size limit wraps workflow.ErrBudget.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ChunkSize is the size of the chunks a derived component is sent in.
const ChunkSize = 256 << 10

// Store reads and writes objects through a retrieve service client.
type Store struct {
	c retrievev1.RetrieveServiceClient
}

// New returns a Store over c.
func New(c retrievev1.RetrieveServiceClient) *Store { return &Store{c: c} }

// classify turns a retrieve-service error into one the invoke service maps to a status.
func classify(err error, what string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", workflow.ErrNotFound, st.Message())
	case codes.InvalidArgument, codes.OutOfRange:
		return fmt.Errorf("%w: %s", workflow.ErrBadParams, st.Message())
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s: %s", workflow.ErrUnavailable, what, st.Message())
	case codes.Canceled:
		return context.Canceled
	case codes.Internal, codes.ResourceExhausted, codes.PermissionDenied, codes.FailedPrecondition, codes.DataLoss:
		// Storage full or unwritable, or a path that would escape the object: another worker
		// would meet the same storage.
		return fmt.Errorf("%w: %s: %s: %s", workflow.ErrStorage, what, st.Code(), st.Message())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Record returns an object's record with its components' sizes.
func (s *Store) Record(ctx context.Context, objectID string) (*retrievev1.GetRecordResponse, error) {
	rec, err := s.c.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: objectID, WithComponentSizes: true})
	if err != nil {
		return nil, classify(err, "reading the record of "+objectID)
	}
	return rec, nil
}

// Read returns the whole bytes of a component, refusing more than max bytes.
func (s *Store) Read(ctx context.Context, objectID, componentID string, max int64) ([]byte, *retrievev1.ComponentHeader, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	what := fmt.Sprintf("reading component %s of %s", componentID, objectID)
	stream, err := s.c.StreamComponent(ctx, &retrievev1.StreamComponentRequest{ObjectId: objectID, ComponentId: componentID})
	if err != nil {
		return nil, nil, classify(err, what)
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, nil, classify(err, what)
	}
	h := first.GetHeader()
	if h == nil {
		return nil, nil, fmt.Errorf("%s: the stream began without a header", what)
	}
	if h.GetSize() > max {
		return nil, nil, fmt.Errorf("%w: source size budget of %d bytes: component %s of %s has %d", workflow.ErrBudget, max, componentID, objectID, h.GetSize())
	}
	data := make([]byte, 0, h.GetSize())
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, classify(err, what)
		}
		if int64(len(data)+len(msg.GetChunk())) > h.GetSize() {
			return nil, nil, fmt.Errorf("%s: more bytes than the %d announced", what, h.GetSize())
		}
		data = append(data, msg.GetChunk()...)
	}
	if int64(len(data)) != h.GetSize() {
		return nil, nil, fmt.Errorf("%s: %d of %d bytes arrived", what, len(data), h.GetSize())
	}
	return data, h, nil
}

// Write stores data as the derived component derived/{wf}/{path} of an object, all or
// nothing, and returns what was stored.
func (s *Store) Write(ctx context.Context, objectID, wf, path, mediaType string, data []byte) (*retrievev1.WriteComponentResponse, error) {
	what := fmt.Sprintf("writing %s/%s of %s", wf, path, objectID)
	stream, err := s.c.WriteComponent(ctx)
	if err != nil {
		return nil, classify(err, what)
	}
	err = stream.Send(&retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Header{Header: &retrievev1.WriteComponentHeader{
		ObjectId: objectID, Workflow: wf, Path: path, MediaType: mediaType, Size: int64(len(data)),
	}}})
	if err == nil {
		err = sendChunks(stream.Send, data, func(b []byte) *retrievev1.WriteComponentRequest {
			return &retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Chunk{Chunk: b}}
		})
	}
	// A Send error means the server ended the call; CloseAndRecv tells why.
	resp, rerr := stream.CloseAndRecv()
	if rerr != nil {
		return nil, classify(rerr, what)
	}
	return resp, nil
}

// sendChunks sends data in pieces of at most ChunkSize bytes, each made into a message by
// chunk, until a Send fails.
func sendChunks[M any](send func(M) error, data []byte, chunk func([]byte) M) error {
	for rest := data; len(rest) > 0; {
		n := min(len(rest), ChunkSize)
		if err := send(chunk(rest[:n])); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// File is one derived component of a commit.
type File struct {
	Path      string // below the workflow's folder, e.g. "equations.json"
	MediaType string
	Data      []byte
}

// Commit stores files as derived components of an object, all in one commit with metadata
// or none (see RetrieveService.CommitComponents), and returns what was stored and the
// version (commit id) that holds it.
func (s *Store) Commit(ctx context.Context, objectID, wf string, metadata map[string]string, files []File) (*retrievev1.CommitComponentsResponse, error) {
	what := fmt.Sprintf("committing %d derived components of %s", len(files), objectID)
	stream, err := s.c.CommitComponents(ctx)
	if err != nil {
		return nil, classify(err, what)
	}
	err = stream.Send(&retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_Commit{Commit: &retrievev1.CommitHeader{
		ObjectId: objectID, Workflow: wf, Metadata: metadata,
	}}})
	for _, f := range files {
		if err != nil {
			break
		}
		err = stream.Send(&retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_File{File: &retrievev1.WriteComponentHeader{
			Path: f.Path, MediaType: f.MediaType, Size: int64(len(f.Data)),
		}}})
		if err == nil {
			err = sendChunks(stream.Send, f.Data, func(b []byte) *retrievev1.CommitComponentsRequest {
				return &retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_Chunk{Chunk: b}}
			})
		}
	}
	// A Send error means the server ended the call; CloseAndRecv tells why.
	resp, rerr := stream.CloseAndRecv()
	if rerr != nil {
		return nil, classify(rerr, what)
	}
	if len(resp.GetComponents()) != len(files) {
		return nil, fmt.Errorf("%s: the answer lists %d components", what, len(resp.GetComponents()))
	}
	return resp, nil
}
