// Package fdo reads FDO records: from the FDO façade over HTTP ([Client]) or from JSON files in
// the data folder ([Dir]), behind a [Cache]. It parses the parts of a record retrieve-svc
// needs ([Record]): the digital object type and the components listed in
// kernel["fdo:hasComponent"], with the record shape and status codes of the FDO façade.
//
// Type records (GET {FDO_API}types/{TypeId}, or {root}/records/types/{TypeId}.json) come
// from a [TypeSource]; [NewTypeCache] puts them behind a Cache of their own. The façade's
// health endpoint is not used.
package fdo

import (
	"context"
	"errors"
)

// Errors of a [Source], wrapped with detail; test for them with errors.Is.
var (
	// ErrNotFound: the source knows no object with this id (façade 404, no file).
	ErrNotFound = errors.New("fdo: no such object")
	// ErrBadRequest: the source rejects the id (façade 400).
	ErrBadRequest = errors.New("fdo: malformed object id")
	// ErrUnavailable: the source failed or could not be reached (façade 5xx, connection
	// errors, timeouts); a later attempt may succeed.
	ErrUnavailable = errors.New("fdo: record source unavailable")
	// ErrTooLarge: the record is bigger than the size cap.
	ErrTooLarge = errors.New("fdo: record too large")
	// ErrMalformed: the record is not a JSON object of the expected shape.
	ErrMalformed = errors.New("fdo: malformed record")
)

// DefaultMaxRecordSize caps the size of one record.
const DefaultMaxRecordSize = 8 << 20

// Source returns the raw bytes of one object's record, by normalised QID.
type Source interface {
	Record(ctx context.Context, qid string) ([]byte, error)
}

// TypeSource returns the raw bytes of one type record, by type id ("ScholarlyArticle"), with
// the errors of a [Source].
type TypeSource interface {
	TypeRecord(ctx context.Context, typeID string) ([]byte, error)
}

// typeRecords adapts a TypeSource to a [Source] keyed by type id.
type typeRecords struct{ ts TypeSource }

func (t typeRecords) Record(ctx context.Context, typeID string) ([]byte, error) {
	return t.ts.TypeRecord(ctx, typeID)
}
