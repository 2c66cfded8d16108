package fdo

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// DefaultMediaType is the media type of a component whose record entry names none.
const DefaultMediaType = "application/octet-stream"

// UnknownType is the type the MaRDI façade gives the minimal record it serves, with status
// 200, for a well-formed QID its knowledge graph does not know (and for an item with neither
// "instance of" nor a profile type). Such a record names no object: [ParseRecord] treats it
// as ErrNotFound.
const UnknownType = "mardi:UnknownType"

// Record is the part of an FDO record retrieve-svc works with. Raw is shared with the cache:
// callers must not modify it.
type Record struct {
	Raw        []byte      // the record exactly as the source served it
	ObjectType string      // kernel.digitalObjectType, or ""
	Components []Component // kernel["fdo:hasComponent"], in record order
}

// Component is one entry of kernel["fdo:hasComponent"].
type Component struct {
	ID        string // componentId, used verbatim (e.g. "fulltext.pdf", "main-pdf")
	MediaType string // mediaType, else the older mimeType, else DefaultMediaType
}

// Component returns the listed component with the given short id.
func (r *Record) Component(id string) (Component, bool) {
	for _, c := range r.Components {
		if c.ID == id {
			return c, true
		}
	}
	return Component{}, false
}

// ParseRecord parses a record. A record without a kernel (absent or null), or whose "@type"
// or kernel "@type" is [UnknownType], names no object and gives an error wrapping
// ErrNotFound. A kernel without "fdo:hasComponent" has no components. Entries without a componentId use their "@id"
// without the leading "#"; entries with neither are skipped. JSON-LD compaction may write a
// one-element list as a bare object, so both are accepted, and digitalObjectType may be a
// string or an {"@id": …} object. Errors wrap ErrMalformed.
func ParseRecord(raw []byte) (Record, error) {
	var doc struct {
		Type   json.RawMessage `json:"@type"`
		Kernel *struct {
			Type       json.RawMessage `json:"@type"`
			ObjectType json.RawMessage `json:"digitalObjectType"`
			Components json.RawMessage `json:"fdo:hasComponent"`
		} `json:"kernel"`
	}
	if err := decodeObject(raw, &doc); err != nil {
		return Record{}, err
	}
	rec := Record{Raw: raw}
	if doc.Kernel == nil {
		return Record{}, fmt.Errorf("%w: the record has no kernel", ErrNotFound)
	}
	if isUnknownType(doc.Type) || isUnknownType(doc.Kernel.Type) {
		return Record{}, fmt.Errorf("%w: the record's type is the unknown-type marker %s", ErrNotFound, UnknownType)
	}
	var err error
	if rec.ObjectType, err = idOrString(doc.Kernel.ObjectType); err != nil {
		return Record{}, fmt.Errorf("%w: digitalObjectType: %w", ErrMalformed, err)
	}
	entries, err := oneOrMany(doc.Kernel.Components)
	if err != nil {
		return Record{}, fmt.Errorf("%w: fdo:hasComponent: %w", ErrMalformed, err)
	}
	for i, e := range entries {
		var c struct {
			AtID        string `json:"@id"`
			ComponentID string `json:"componentId"`
			MediaType   string `json:"mediaType"`
			MimeType    string `json:"mimeType"`
		}
		if err := json.Unmarshal(e, &c); err != nil {
			return Record{}, fmt.Errorf("%w: fdo:hasComponent[%d]: %w", ErrMalformed, i, err)
		}
		id := c.ComponentID
		if id == "" {
			id = strings.TrimPrefix(c.AtID, "#")
		}
		if id == "" {
			continue
		}
		rec.Components = append(rec.Components, Component{ID: id, MediaType: cmp.Or(c.MediaType, c.MimeType, DefaultMediaType)})
	}
	return rec, nil
}

// ParseTypeRecord parses a type record (the façade's /fdo/types/{TypeId}): any JSON object,
// served as it is; ObjectType is its kernel's digitalObjectType when it has one. It lists no
// components. Errors wrap ErrMalformed.
func ParseTypeRecord(raw []byte) (Record, error) {
	var doc struct {
		Kernel json.RawMessage `json:"kernel"`
	}
	if err := decodeObject(raw, &doc); err != nil {
		return Record{}, fmt.Errorf("type record: %w", err)
	}
	rec := Record{Raw: raw}
	var kernel struct {
		ObjectType json.RawMessage `json:"digitalObjectType"`
	}
	if k := bytes.TrimSpace(doc.Kernel); len(k) > 0 && k[0] == '{' && json.Unmarshal(k, &kernel) == nil {
		rec.ObjectType, _ = idOrString(kernel.ObjectType)
	}
	return rec, nil
}

// decodeObject decodes raw, which must be a JSON object, into v; errors wrap ErrMalformed.
func decodeObject(raw []byte, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// isUnknownType reports whether an "@type" value is UnknownType, alone or in a list.
func isUnknownType(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(UnknownType)) {
		return false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == UnknownType
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, UnknownType)
}

// idOrString decodes "x" or {"@id": "x"}; absent or null gives "".
func idOrString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '{' {
		var v struct {
			ID string `json:"@id"`
		}
		err := json.Unmarshal(raw, &v)
		return v.ID, err
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// oneOrMany decodes a list of objects, or one bare object; absent or null gives none.
func oneOrMany(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '{':
		return []json.RawMessage{raw}, nil
	}
	var list []json.RawMessage
	err := json.Unmarshal(raw, &list)
	return list, err
}
