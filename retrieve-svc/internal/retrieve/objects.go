package retrieve

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// Objects made through the gateway ("local" objects) keep their record in storage beside
// their components, on the folder backend and on lakeFS alike:
//
//	{branch}/{shard}/{QID}/record.json              the record (localRecord, JSON)
//	{branch}/{shard}/{QID}/components/{elementId}   each element's bytes
//
// Every create, update and delete is one commit; the record is rewritten by each of them
// (its revision counts the writes), so a record read at a version tells whether the object
// changed since. Objects of the façade have no record.json: their elements may be added or
// replaced (committed like any write), their record never changes here.

// WriteLimits bound what one create or update may store.
type WriteLimits struct {
	// MaxElementSize bounds one element's bytes.
	MaxElementSize int64
	// MaxElements bounds the elements one write stores, and the elements a record lists.
	MaxElements int
	// IDPrefix starts the ids the service makes: "Q" and digits; the suffix is random digits
	// up to [doipid.MaxDigits] in all.
	IDPrefix string
	// ClientIDs lets a create name the id of the new object.
	ClientIDs bool
}

// DefaultWriteLimits are the limits when none are configured.
var DefaultWriteLimits = WriteLimits{MaxElementSize: 4 << 30, MaxElements: 64, IDPrefix: "Q99"}

// maxAttributes bounds a record's attributes, in bytes.
const maxAttributes = 1 << 20

// maxRecordFile bounds a stored record that is read back.
const maxRecordFile = 4 << 20

// WithWrites sets the limits and id rules of creates and updates.
func WithWrites(l WriteLimits) Option {
	return func(s *Server) { s.writes = l }
}

// localRecord is a local object's record as stored: the digital object of DOIP without element
// bytes, and who made and changed it.
type localRecord struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Elements   []localElement  `json:"elements"`
	Revision   int64           `json:"revision"`
	Created    time.Time       `json:"created"`
	CreatedBy  string          `json:"createdBy,omitempty"`
	Modified   time.Time       `json:"modified"`
	ModifiedBy string          `json:"modifiedBy,omitempty"`
}

type localElement struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Length     int64           `json:"length"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
}

func (r *localRecord) element(id string) int {
	return slices.IndexFunc(r.Elements, func(e localElement) bool { return e.ID == id })
}

// content is what GetRecord serves as the record: attributes.content when it is there,
// else the attributes, else {}.
func (r *localRecord) content() []byte {
	var a struct {
		Content json.RawMessage `json:"content"`
	}
	if len(r.Attributes) > 0 && json.Unmarshal(r.Attributes, &a) == nil && len(a.Content) > 0 && a.Content[0] == '{' {
		return a.Content
	}
	if len(r.Attributes) > 0 {
		return r.Attributes
	}
	return []byte("{}")
}

// fdoRecord is the record as the read path sees it.
func (r *localRecord) fdoRecord() fdo.Record {
	rec := fdo.Record{Raw: r.content(), ObjectType: r.Type}
	for _, e := range r.Elements {
		rec.Components = append(rec.Components, fdo.Component{ID: e.ID, MediaType: e.Type})
	}
	return rec
}

// filename is an element's attributes.filename, else one made from its id and type.
func (e *localElement) filename() string {
	var a struct {
		Filename string `json:"filename"`
	}
	if len(e.Attributes) > 0 && json.Unmarshal(e.Attributes, &a) == nil && a.Filename != "" && !strings.ContainsAny(a.Filename, "/\\") {
		return a.Filename
	}
	return Filename(e.ID, e.Type)
}

// recordKey is the storage key of a local object's record.
func (s *Server) recordKey(qid string) string {
	return objectid.RecordKey(s.branch, qid)
}

// loadLocal reads a local object's record from rb; ok is false when the object has none there.
func (s *Server) loadLocal(ctx context.Context, rb storage.ReadBucket, qid string) (*localRecord, []byte, bool, error) {
	return readLocal(ctx, rb, s.recordKey(qid), qid)
}

// readLocal reads the local record stored at key; ok is false when there is none.
func readLocal(ctx context.Context, rb storage.ReadBucket, key, qid string) (*localRecord, []byte, bool, error) {
	rc, info, err := rb.Get(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	defer rc.Close()
	if info.Size > maxRecordFile {
		return nil, nil, false, fmt.Errorf("record of %s is %d bytes, more than %d", qid, info.Size, maxRecordFile)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxRecordFile))
	if err != nil {
		return nil, nil, false, err
	}
	var r localRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, nil, false, fmt.Errorf("record of %s: %w", qid, err)
	}
	return &r, data, true, nil
}

// LocalFirst is a record source for readers that follow storage (the search index): an
// object made through the gateway has its record (what GetRecord serves) from record.json
// below branch in bucket, with a kernel (its type and time of change, as the façade's
// records carry them) where the record has none; any other object has the façade's.
func LocalFirst(bucket storage.ReadBucket, branch string, façade fdo.Source) fdo.Source {
	return localFirst{bucket: bucket, branch: branch, façade: façade}
}

type localFirst struct {
	bucket storage.ReadBucket
	branch string
	façade fdo.Source
}

func (l localFirst) Record(ctx context.Context, qid string) ([]byte, error) {
	lr, _, found, err := readLocal(ctx, l.bucket, objectid.RecordKey(l.branch, qid), qid)
	if err != nil {
		return nil, err
	}
	if !found {
		return l.façade.Record(ctx, qid)
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(lr.content(), &doc) != nil || doc == nil {
		doc = map[string]json.RawMessage{}
	}
	if _, ok := doc["kernel"]; !ok {
		doc["kernel"], _ = json.Marshal(map[string]any{"@id": qid, "digitalObjectType": lr.Type, "modified": lr.Modified.UTC().Format(time.RFC3339)})
	}
	return json.Marshal(doc)
}

// record returns an object's record as read at rb: a local object's from storage, else the
// façade's (through the cache). cached is the cache's word; local says which it was.
func (s *Server) record(ctx context.Context, rb storage.ReadBucket, qid string) (rec fdo.Record, lr *localRecord, cached bool, err error) {
	if _, ok := s.bucket.(storage.Versioner); ok && rb != nil {
		lr, _, found, err := s.loadLocal(ctx, rb, qid)
		if err != nil {
			return fdo.Record{}, nil, false, s.storageError(ctx, s.logger.With(slog.String("object", qid)), err)
		}
		if found {
			return lr.fdoRecord(), lr, false, nil
		}
	}
	rec, cached, err = s.records.Record(ctx, qid)
	if err != nil {
		return fdo.Record{}, nil, false, s.recordError(ctx, qid, err)
	}
	return rec, nil, cached, nil
}

// recordResponse answers GetRecord for a local object.
func (s *Server) recordResponse(qid, version string, lr *localRecord) *retrievev1.GetRecordResponse {
	resp := &retrievev1.GetRecordResponse{ObjectId: qid, RecordJson: lr.content(), ObjectType: lr.Type, Version: version}
	for _, e := range lr.Elements {
		resp.Components = append(resp.Components, &retrievev1.Component{
			ComponentId: e.ID, MediaType: e.Type, Filename: e.filename(), Size: proto.Int64(e.Length),
		})
	}
	return resp
}

// objectLocks serialises the writes of one object within this process, so that a version
// check and the commit after it see no other write in between. Writers in other processes
// are not serialised: run one retrieve-svc per repository branch where clients rely on it.
type objectLocks struct {
	mu    sync.Mutex
	locks map[string]*objectLock
}

type objectLock struct {
	mu   sync.Mutex
	refs int
}

func (l *objectLocks) lock(qid string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*objectLock{}
	}
	ol := l.locks[qid]
	if ol == nil {
		ol = &objectLock{}
		l.locks[qid] = ol
	}
	ol.refs++
	l.mu.Unlock()
	ol.mu.Lock()
	return func() {
		ol.mu.Unlock()
		l.mu.Lock()
		if ol.refs--; ol.refs == 0 {
			delete(l.locks, qid)
		}
		l.mu.Unlock()
	}
}

// versioner returns the bucket's versions, or the error that refuses writes without them.
func (s *Server) versioner() (storage.Versioner, error) {
	v, ok := s.bucket.(storage.Versioner)
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, "this storage keeps no versions: objects can be created, changed and deleted on the folder or lakeFS storage only")
	}
	return v, nil
}

// newID makes the id of a new object: the configured prefix and random digits.
func (s *Server) newID() (string, error) {
	prefix := s.writes.IDPrefix
	n := doipid.MaxDigits - (len(prefix) - 1)
	if n < 4 {
		return "", status.Errorf(codes.FailedPrecondition, "id prefix %s leaves fewer than 4 digits", doipid.Quote(prefix))
	}
	n = min(n, 9)
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	r, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%0*d", prefix, n, r), nil
}

// exists reports whether an object of that id is known here or to the façade.
func (s *Server) exists(ctx context.Context, qid string) (bool, error) {
	_, _, found, err := s.loadLocal(ctx, s.bucket, qid)
	if err != nil || found {
		return found, err
	}
	_, _, err = s.records.Record(ctx, qid)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fdo.ErrNotFound), errors.Is(err, fdo.ErrBadRequest):
		return false, nil
	}
	return false, s.recordError(ctx, qid, err)
}

// checkExpected refuses a write when the object changed since the version the client read:
// its record there must be the record now.
func (s *Server) checkExpected(ctx context.Context, v storage.Versioner, qid, expected string, current []byte) error {
	if expected == "" {
		return nil
	}
	rb, _, err := v.At(ctx, expected)
	if errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrInvalidVersion) {
		return status.Errorf(codes.Aborted, "object %s: version %s is unknown, so the object may have changed since; retrieve it again", qid, doipid.Quote(expected))
	}
	if err != nil {
		return s.storageError(ctx, s.logger.With(slog.String("object", qid)), err)
	}
	_, then, found, err := s.loadLocal(ctx, rb, qid)
	if err != nil {
		return s.storageError(ctx, s.logger.With(slog.String("object", qid)), err)
	}
	if !found || !bytes.Equal(then, current) {
		return status.Errorf(codes.Aborted, "object %s changed since version %s; retrieve it again and repeat the change", qid, doipid.Quote(expected))
	}
	return nil
}

// fillContentID fills doipy's placeholder: attributes.content starting with an empty "id"
// gets the object's id there (the client's key order is kept).
func fillContentID(attrs []byte, qid string) []byte {
	var a map[string]json.RawMessage
	if json.Unmarshal(attrs, &a) != nil {
		return attrs
	}
	c, ok := a["content"]
	if !ok {
		return attrs
	}
	var buf bytes.Buffer
	if json.Compact(&buf, c) != nil {
		return attrs
	}
	const placeholder = `{"id":""`
	if !bytes.HasPrefix(buf.Bytes(), []byte(placeholder)) {
		return attrs
	}
	filled := append([]byte(`{"id":"`+qid+`"`), buf.Bytes()[len(placeholder):]...)
	i := bytes.Index(attrs, c)
	if i < 0 {
		return attrs
	}
	return append(append(append([]byte{}, attrs[:i]...), filled...), attrs[i+len(c):]...)
}

// checkAttributes validates and compacts a JSON object of attributes.
func checkAttributes(raw []byte, what string) ([]byte, error) {
	if len(raw) > maxAttributes {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %d bytes, at most %d", what, len(raw), maxAttributes)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, status.Errorf(codes.InvalidArgument, "%s must be a JSON object", what)
	}
	return buf.Bytes(), nil
}

// checkElementID resolves an element id to a component id a local object may have.
func checkElementID(qid, id string) (string, error) {
	short, err := doipid.ResolveComponentID(qid, id)
	if err != nil {
		var cErr *doipid.ComponentIDError
		if errors.As(err, &cErr) {
			return "", status.Errorf(codes.InvalidArgument, "invalid element id %s: %s", doipid.Quote(id), cErr.Reason)
		}
		return "", status.Errorf(codes.InvalidArgument, "invalid element id %s", doipid.Quote(id))
	}
	if doipid.IsDerived(short) {
		return "", status.Errorf(codes.InvalidArgument, "element id %s: %s/ is where workflows write", doipid.Quote(id), doipid.DerivedDir)
	}
	return short, nil
}

// WriteObject implements [retrievev1.RetrieveServiceServer]: a create or an update in one
// transaction, committed when the stream ends cleanly and everything checked out, aborted
// otherwise.
func (s *Server) WriteObject(stream grpc.ClientStreamingServer[retrievev1.WriteObjectRequest, retrievev1.WriteObjectResponse]) error {
	ctx := stream.Context()
	v, err := s.versioner()
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "no object header: the first message must be one")
		}
		return err
	}
	h := first.GetObject()
	if h == nil {
		return status.Error(codes.InvalidArgument, "the first message must be an object header")
	}
	if len(h.GetElements()) > s.writes.MaxElements || len(h.GetRemoveElements()) > s.writes.MaxElements {
		return status.Errorf(codes.InvalidArgument, "more than %d elements in one write", s.writes.MaxElements)
	}
	if len(h.GetAuthor()) > MaxMetadataValue || len(h.GetType()) > 256 {
		return status.Error(codes.InvalidArgument, "author or type too long")
	}

	var qid string
	if h.GetCreate() {
		if h.GetObjectId() != "" {
			if !s.writes.ClientIDs {
				return status.Errorf(codes.PermissionDenied, "this service makes the ids of new objects: leave the id out (asked for %s)", doipid.Quote(h.GetObjectId()))
			}
			if qid, err = normalize(h.GetObjectId()); err != nil {
				return err
			}
		} else if qid, err = s.newID(); err != nil {
			return err
		}
	} else if qid, err = normalize(h.GetObjectId()); err != nil {
		return err
	}
	unlock := s.locks.lock(qid)
	defer unlock()
	log := s.logger.With(slog.String("object", qid))

	// The record as it is, and what the write may do to it.
	var (
		rec    *localRecord
		facade bool
		now    = time.Now().UTC()
	)
	if h.GetCreate() {
		taken, err := s.exists(ctx, qid)
		if err != nil {
			return err
		}
		if taken {
			return status.Errorf(codes.AlreadyExists, "object %s exists already; it is not overwritten", qid)
		}
		rec = &localRecord{ID: qid, Type: h.GetType(), Created: now, CreatedBy: h.GetAuthor(), Elements: []localElement{}}
		if rec.Type == "" {
			rec.Type = "Document"
		}
	} else {
		cur, raw, found, err := s.loadLocal(ctx, s.bucket, qid)
		if err != nil {
			return s.storageError(ctx, log, err)
		}
		if found {
			rec = cur
			if err := s.checkExpected(ctx, v, qid, h.GetExpectedVersion(), raw); err != nil {
				return err
			}
		} else {
			if _, _, err := s.records.Record(ctx, qid); err != nil {
				return s.recordError(ctx, qid, err)
			}
			if len(h.GetAttributesJson()) > 0 || h.GetType() != "" || len(h.GetRemoveElements()) > 0 || len(h.GetElements()) > 0 {
				return status.Errorf(codes.FailedPrecondition, "object %s comes from the FDO façade: its record cannot be changed here, only its components added or replaced", qid)
			}
			facade = true
		}
		if rec != nil && h.GetType() != "" {
			rec.Type = h.GetType()
		}
	}
	if rec != nil {
		if len(h.GetAttributesJson()) > 0 {
			attrs, err := checkAttributes(h.GetAttributesJson(), "attributes")
			if err != nil {
				return err
			}
			rec.Attributes = fillContentID(attrs, qid)
		}
		for _, id := range h.GetRemoveElements() {
			short, err := checkElementID(qid, id)
			if err != nil {
				return err
			}
			i := rec.element(short)
			if i < 0 {
				return status.Errorf(codes.NotFound, "object %s has no element %s to remove", qid, doipid.Quote(id))
			}
			rec.Elements = slices.Delete(rec.Elements, i, i+1)
		}
		for _, d := range h.GetElements() {
			short, err := checkElementID(qid, d.GetId())
			if err != nil {
				return err
			}
			e := localElement{ID: short, Type: d.GetMediaType(), Length: 0}
			if e.Type == "" {
				e.Type = fdo.DefaultMediaType
			}
			if len(d.GetAttributesJson()) > 0 {
				if e.Attributes, err = checkAttributes(d.GetAttributesJson(), "attributes of element "+doipid.Quote(d.GetId())); err != nil {
					return err
				}
			}
			if i := rec.element(short); i >= 0 {
				e.Length = rec.Elements[i].Length
				rec.Elements[i] = e
			} else {
				rec.Elements = append(rec.Elements, e)
			}
		}
		if len(rec.Elements) > s.writes.MaxElements {
			return status.Errorf(codes.InvalidArgument, "object %s would have %d elements, at most %d", qid, len(rec.Elements), s.writes.MaxElements)
		}
	}

	tx, err := v.Begin(ctx, s.branch)
	if err != nil {
		return s.storageError(ctx, log, err)
	}
	defer tx.Abort(ctx)

	var (
		resp  retrievev1.WriteObjectResponse
		keys  []string
		sent  = map[string]bool{}
		queue *retrievev1.WriteObjectRequest
	)
	next := func() (*retrievev1.WriteObjectRequest, error) {
		if queue != nil {
			m := queue
			queue = nil
			return m, nil
		}
		return stream.Recv()
	}
	for {
		msg, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		eh := msg.GetElement()
		if eh == nil {
			return status.Error(codes.InvalidArgument, "element bytes must follow an element header")
		}
		short, err := checkElementID(qid, eh.GetId())
		if err != nil {
			return err
		}
		if sent[short] {
			return status.Errorf(codes.InvalidArgument, "the bytes of element %s were sent twice", doipid.Quote(eh.GetId()))
		}
		sent[short] = true
		if len(sent) > s.writes.MaxElements {
			return status.Errorf(codes.InvalidArgument, "more than %d elements in one write", s.writes.MaxElements)
		}
		idx := -1
		if rec != nil {
			if idx = rec.element(short); idx < 0 {
				// Bytes of an element the object does not list yet: it is listed now.
				if len(rec.Elements) >= s.writes.MaxElements {
					return status.Errorf(codes.InvalidArgument, "object %s would have more than %d elements", qid, s.writes.MaxElements)
				}
				rec.Elements = append(rec.Elements, localElement{ID: short, Type: cmp.Or(eh.GetMediaType(), fdo.DefaultMediaType)})
				idx = len(rec.Elements) - 1
			}
		}
		size := eh.GetSize()
		if size < -1 || size > s.writes.MaxElementSize {
			return status.Errorf(codes.InvalidArgument, "element %s: size %d, at most %d bytes", doipid.Quote(eh.GetId()), size, s.writes.MaxElementSize)
		}
		src := &elementReader{id: eh.GetId(), size: size, max: s.writes.MaxElementSize, hash: sha256.New(), recv: stream.Recv,
			park: func(m *retrievev1.WriteObjectRequest) { queue = m }}
		key := objectid.ComponentKey(s.branch, qid, short)
		if err := storage.ValidateKey(key); err != nil {
			return status.Errorf(codes.InvalidArgument, "element id %s is not a valid key", doipid.Quote(eh.GetId()))
		}
		info, perr := tx.Put(ctx, key, src, size)
		if perr != nil {
			if src.err != nil {
				perr = src.err
			}
			log.WarnContext(ctx, "write not made", slog.String("element", short), slog.Any("err", perr))
			if _, ok := status.FromError(perr); ok && !errors.Is(perr, context.Canceled) {
				return perr
			}
			return s.storageError(ctx, log, perr)
		}
		if src.err != nil {
			return src.err
		}
		if rec != nil {
			rec.Elements[idx].Length = info.Size
			if eh.GetMediaType() != "" {
				rec.Elements[idx].Type = eh.GetMediaType()
			}
		}
		keys = append(keys, key)
		resp.Stored = append(resp.Stored, &retrievev1.WriteComponentResponse{
			ComponentId: short, StorageKey: key, Size: info.Size, Sha256: hex.EncodeToString(src.hash.Sum(nil)),
		})
		s.metrics.stored(info.Size)
	}
	if facade && len(keys) == 0 {
		return status.Errorf(codes.InvalidArgument, "update of %s changes nothing: send the bytes of a component", qid)
	}

	change := "updated"
	if h.GetCreate() {
		change = "created"
	}
	if rec != nil {
		for _, id := range h.GetRemoveElements() {
			short, _ := checkElementID(qid, id)
			if !sent[short] && rec.element(short) < 0 {
				key := objectid.ComponentKey(s.branch, qid, short)
				if err := tx.Delete(ctx, key); err != nil {
					return s.storageError(ctx, log, err)
				}
				keys = append(keys, key)
			}
		}
		rec.Revision++
		rec.Modified, rec.ModifiedBy = now, h.GetAuthor()
		data, err := json.Marshal(rec)
		if err != nil {
			return status.Errorf(codes.Internal, "record of %s: %v", qid, err)
		}
		if _, err := tx.Put(ctx, s.recordKey(qid), bytes.NewReader(data), int64(len(data))); err != nil {
			return s.storageError(ctx, log, err)
		}
	}
	meta := map[string]string{"object": qid, "change": change}
	if h.GetAuthor() != "" {
		meta["author"] = h.GetAuthor()
	}
	s.addRequestID(ctx, meta)
	msg := fmt.Sprintf("%s %s", strings.ToUpper(change[:1])+change[1:], qid)
	if resp.Version, err = tx.Commit(ctx, msg, meta); err != nil {
		log.WarnContext(ctx, "commit not made", slog.Any("err", err))
		return s.storageError(ctx, log, err)
	}
	for _, k := range keys {
		s.blobs.drop(k)
	}
	for _, c := range resp.Stored {
		c.Version = resp.Version
	}
	if rec != nil {
		resp.Record = s.recordResponse(qid, resp.Version, rec)
	} else {
		resp.Record = &retrievev1.GetRecordResponse{ObjectId: qid, Version: resp.Version}
	}
	log.InfoContext(ctx, "object "+change, slog.Int("elements", len(resp.Stored)), slog.String("version", resp.Version))
	s.changed(ctx, changes.Change{ObjectID: qid, Version: resp.Version, Record: rec != nil, Components: keys})
	return stream.SendAndClose(&resp)
}

// elementReader yields one element's bytes from the stream: exactly size bytes, or, with
// size -1, the chunks up to the next header or the end of the stream (the header is parked
// for the caller). It stops with InvalidArgument past max bytes.
type elementReader struct {
	id    string
	size  int64
	max   int64
	hash  hash.Hash
	recv  func() (*retrievev1.WriteObjectRequest, error)
	park  func(*retrievev1.WriteObjectRequest)
	buf   []byte
	n     int64
	ended bool
	err   error
}

func (r *elementReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.ended || (r.size >= 0 && r.n == r.size) {
			return 0, io.EOF
		}
		msg, err := r.recv()
		if errors.Is(err, io.EOF) {
			if r.size >= 0 {
				r.err = status.Errorf(codes.InvalidArgument, "element %s: the stream ended after %d of its %d bytes", doipid.Quote(r.id), r.n, r.size)
				return 0, r.err
			}
			r.ended = true
			return 0, io.EOF
		}
		if err != nil {
			r.err = err
			return 0, err
		}
		if msg.GetChunk() == nil && msg.GetElement() != nil {
			if r.size >= 0 {
				r.err = status.Errorf(codes.InvalidArgument, "element %s: the next header arrived after %d of its %d bytes", doipid.Quote(r.id), r.n, r.size)
				return 0, r.err
			}
			r.park(msg)
			r.ended = true
			return 0, io.EOF
		}
		if msg.GetObject() != nil {
			r.err = status.Error(codes.InvalidArgument, "a second object header")
			return 0, r.err
		}
		r.buf = msg.GetChunk()
		r.n += int64(len(r.buf))
		limit := r.max
		if r.size >= 0 {
			limit = r.size
		}
		if r.n > limit {
			r.err = status.Errorf(codes.InvalidArgument, "element %s: more than %d bytes", doipid.Quote(r.id), limit)
			return 0, r.err
		}
		r.hash.Write(r.buf)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// DeleteObject implements [retrievev1.RetrieveServiceServer].
func (s *Server) DeleteObject(ctx context.Context, req *retrievev1.DeleteObjectRequest) (*retrievev1.DeleteObjectResponse, error) {
	v, err := s.versioner()
	if err != nil {
		return nil, err
	}
	qid, err := normalize(req.GetObjectId())
	if err != nil {
		return nil, err
	}
	unlock := s.locks.lock(qid)
	defer unlock()
	log := s.logger.With(slog.String("object", qid))
	rec, raw, found, err := s.loadLocal(ctx, s.bucket, qid)
	if err != nil {
		return nil, s.storageError(ctx, log, err)
	}
	if !found {
		if _, _, err := s.records.Record(ctx, qid); err != nil {
			return nil, s.recordError(ctx, qid, err)
		}
		return nil, status.Errorf(codes.FailedPrecondition, "object %s comes from the FDO façade and cannot be deleted here", qid)
	}
	if err := s.checkExpected(ctx, v, qid, req.GetExpectedVersion(), raw); err != nil {
		return nil, err
	}
	tx, err := v.Begin(ctx, s.branch)
	if err != nil {
		return nil, s.storageError(ctx, log, err)
	}
	defer tx.Abort(ctx)
	keys := []string{s.recordKey(qid)}
	for _, e := range rec.Elements {
		keys = append(keys, objectid.ComponentKey(s.branch, qid, e.ID))
	}
	for _, k := range keys {
		if err := tx.Delete(ctx, k); err != nil {
			return nil, s.storageError(ctx, log, err)
		}
	}
	meta := map[string]string{"object": qid, "change": "deleted"}
	if req.GetAuthor() != "" {
		meta["author"] = req.GetAuthor()
	}
	s.addRequestID(ctx, meta)
	version, err := tx.Commit(ctx, "Delete "+qid, meta)
	if err != nil {
		return nil, s.storageError(ctx, log, err)
	}
	for _, k := range keys {
		s.blobs.drop(k)
	}
	log.InfoContext(ctx, "object deleted", slog.String("version", version))
	s.changed(ctx, changes.Change{ObjectID: qid, Version: version, Deleted: true, Components: keys[1:]})
	return &retrievev1.DeleteObjectResponse{Version: version}, nil
}

// ListVersions implements [retrievev1.RetrieveServiceServer]: the commits that changed
// anything under the object's folder (its record, its components, derived ones included).
func (s *Server) ListVersions(ctx context.Context, req *retrievev1.ListVersionsRequest) (*retrievev1.ListVersionsResponse, error) {
	qid, err := normalize(req.GetObjectId())
	if err != nil {
		return nil, err
	}
	h, ok := s.bucket.(storage.Historian)
	if !ok {
		return nil, status.Error(codes.FailedPrecondition, "this storage keeps no versions")
	}
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = 50
	case size < 0 || size > storage.MaxLog:
		return nil, status.Errorf(codes.InvalidArgument, "page size %d: want 1 to %d", size, storage.MaxLog)
	}
	prefix := objectid.Shard(qid) + "/" + qid + "/"
	log, err := h.Log(ctx, s.branch, prefix, req.GetPageToken(), size+1)
	if errors.Is(err, storage.ErrNotExist) || errors.Is(err, storage.ErrInvalidVersion) {
		return nil, status.Errorf(codes.InvalidArgument, "page token %s names no version of %s", doipid.Quote(req.GetPageToken()), qid)
	}
	if err != nil {
		return nil, s.storageError(ctx, s.logger.With(slog.String("object", qid)), err)
	}
	if len(log) == 0 && req.GetPageToken() == "" {
		if found, err := s.exists(ctx, qid); err != nil {
			return nil, err
		} else if !found {
			return nil, status.Errorf(codes.NotFound, "no object %s", qid)
		}
	}
	resp := &retrievev1.ListVersionsResponse{}
	for i, c := range log {
		if i == size {
			resp.NextPageToken = log[i-1].ID
			break
		}
		change := c.Metadata["change"]
		if change == "" && c.Metadata["workflow"] != "" {
			change = "derived"
		}
		author := c.Metadata["author"]
		if author == "" && c.Metadata["workflow"] != "" {
			author = "workflow " + c.Metadata["workflow"]
		}
		resp.Versions = append(resp.Versions, &retrievev1.ObjectVersion{
			Version: c.ID, TimeUnix: c.Time.Unix(), Author: author, Message: c.Message, Change: change,
		})
	}
	return resp, nil
}
