package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Operation identifiers of a type record's applicableOperations (the MaRDI FDO façade's type
// registry), for the operations this gateway performs on an object.
const (
	typeOpRetrieve = "0.DOIP/Op.Retrieve"
	typeOpPurge    = "0.MaRDI/Op.Purge"
	typeOpInvoke   = "0.MaRDI/Op.Invoke"
)

// typeOps maps our per-object operations to the identifiers a type record lists them by.
// Hello and list operations address the service and are never filtered.
var typeOps = map[doip.Op]string{
	doip.OpRetrieve: typeOpRetrieve,
	doip.OpPurge:    typeOpPurge,
	doip.OpInvoke:   typeOpInvoke,
}

// maxTypeOps bounds how many identifiers of applicableOperations are looked at.
const maxTypeOps = 256

// isTypeRecordID reports whether an object id names a type record: "types/{TypeId}" (the
// prefix in any case) or a type's URL (".../types/{TypeId}"). retrieve-svc checks the type
// id itself.
func isTypeRecordID(id string) bool {
	if len(id) >= len("types/") && strings.EqualFold(id[:len("types/")], "types/") {
		return true
	}
	return (strings.HasPrefix(id, "https://") || strings.HasPrefix(id, "http://")) && strings.Contains(id, "/types/")
}

// applicableOperations returns the applicableOperations of the type record that objectType
// (a record's digitalObjectType) names, and whether there is such a list to intersect with.
// No type URL, no type record, a record without the list or with an empty one, and a failed
// lookup (logged) all leave the operations unfiltered: the type says nothing then.
func (d *Dispatcher) applicableOperations(ctx context.Context, objectType string) ([]string, bool) {
	if !isTypeRecordID(objectType) {
		return nil, false
	}
	rec, err := d.getRecord(ctx, objectType, false, "")
	if err != nil {
		if e := doip.AsError(err); e.Kind != doip.KindNotFound {
			d.logger().WarnContext(ctx, "type record unavailable; operations not filtered by type",
				slog.String("type", objectType), slog.Any("err", err))
		}
		return nil, false
	}
	var doc struct {
		Ops []json.RawMessage `json:"applicableOperations"`
	}
	if err := json.Unmarshal(rec.GetRecordJson(), &doc); err != nil || len(doc.Ops) == 0 {
		if err != nil {
			d.logger().WarnContext(ctx, "type record's applicableOperations unreadable; operations not filtered by type",
				slog.String("type", objectType), slog.Any("err", err))
		}
		return nil, false
	}
	ops := make([]string, 0, min(len(doc.Ops), maxTypeOps))
	for _, raw := range doc.Ops[:min(len(doc.Ops), maxTypeOps)] {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			ops = append(ops, s)
		}
	}
	return ops, true
}

// intersectOperations keeps of ops (our operation map) those the type allows, and of the
// workflows all when the type allows invoke, else none.
func intersectOperations(ops map[string]doip.Op, workflows, allowed []string) (map[string]doip.Op, []string) {
	out := maps.Clone(ops)
	for name, op := range ops {
		if id, ok := typeOps[op]; ok && !slices.Contains(allowed, id) {
			delete(out, name)
		}
	}
	if !slices.Contains(allowed, typeOpInvoke) {
		workflows = nil
	}
	return out, workflows
}
