// Package mardijson is the JSON of the answers that the MaRDI family of framings carries:
// the binary envelope (port 3567) and the length-prefixed JSON segments (port 3568) answer
// with the same metadata, components and workflow JSON ([ResponseParts]), and the same
// error object ([ErrorJSON]). It renders [doip.Response] and [doip.Error] only; the framing
// around them is each codec's.
package mardijson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// ProtocolVersion is the "version" the reference server announces in hello.
const ProtocolVersion = 2

type helloMeta struct {
	Operation     string   `json:"operation"`
	Status        string   `json:"status,omitempty"`
	Server        string   `json:"server,omitempty"`
	Version       int      `json:"version,omitempty"`
	Operations    opMap    `json:"availableOperations"`
	ServerVersion string   `json:"serverVersion,omitempty"`
	ServiceID     string   `json:"serviceId,omitempty"`
	Workflows     []string `json:"workflows,omitempty"`
}

// opMap is an operation map that encodes ordered by operation code, as the reference
// server writes it ({"hello":1,"retrieve":2,...}).
type opMap map[string]doip.Op

func (m opMap) MarshalJSON() ([]byte, error) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(a, b)) })
	buf := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := Marshal(name)
		if err != nil {
			return nil, err
		}
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = strconv.AppendUint(buf, uint64(m[name]), 10)
	}
	return append(buf, '}'), nil
}

// ResponseParts renders a response as the MaRDI family of framings carries it: the
// metadata JSON (hello, list operations, invoke, purge, or the record itself), the
// components whose bytes follow, and the workflow JSON (an invoke's result). The
// length-prefixed segments of port 3568 carry the same parts.
func ResponseParts(resp *doip.Response) (meta json.RawMessage, comps []doip.ComponentBody, workflow json.RawMessage, err error) {
	var v any
	switch {
	case resp.Hello != nil:
		hi := resp.Hello
		meta, err = marshalHello(helloMeta{Operation: "hello", Status: "ok", Server: hi.Server, Version: ProtocolVersion,
			Operations: hi.Operations, ServerVersion: hi.Version, ServiceID: hi.ServiceID, Workflows: hi.Workflows})
	case resp.Operations != nil:
		meta, err = marshalHello(helloMeta{Operation: "list_operations", Operations: resp.Operations.Operations, Workflows: resp.Operations.Workflows})
	case resp.Record != nil:
		meta, comps = resp.Record.JSON, resp.Elements
		if resp.Record.Version != "" {
			if meta, err = withVersion(meta, resp.Record.Version); err != nil {
				return nil, nil, nil, err
			}
		}
	case resp.Component != nil:
		comps = []doip.ComponentBody{*resp.Component}
	case resp.Invoke != nil:
		inv := resp.Invoke
		v = struct {
			Operation string          `json:"operation"`
			Workflow  string          `json:"workflow"`
			Result    json.RawMessage `json:"result"`
			Cached    bool            `json:"cached,omitempty"`
			Version   string          `json:"version,omitempty"`
		}{"invoke", inv.Workflow, inv.Result, inv.Cached, inv.Version}
		comps, workflow = inv.Derived, inv.Result
	case resp.Search != nil:
		if meta, err = SearchJSON(resp.Search); err != nil {
			return nil, nil, nil, err
		}
	case resp.Purge != nil:
		v = struct {
			Operation string `json:"operation"`
			ObjectID  string `json:"objectId"`
			Purged    bool   `json:"purged"`
		}{"purge", resp.ObjectID, resp.Purge.Purged}
	default:
		return nil, nil, nil, errors.New("mardijson: empty response")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if v != nil {
		if meta, err = Marshal(v); err != nil {
			return nil, nil, nil, err
		}
	}
	return meta, comps, workflow, nil
}

// withVersion adds "version" as the first member of a record's JSON object (replacing one
// the record has), so that the binary framings name the version the components come from. A
// record that is not a JSON object is returned unchanged.
func withVersion(record json.RawMessage, version string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(record)
	if len(trimmed) < 2 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return record, nil
	}
	// Most records have no "version" of their own: the bytes pass through, and only a
	// record that has one is decoded to drop it.
	if hasMember(trimmed, "version") {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			return record, nil
		}
		delete(fields, "version")
		if trimmed, err := json.Marshal(fields); err == nil {
			record = trimmed
		}
	}
	v, err := marshalVersion(version)
	if err != nil {
		return nil, err
	}
	rest := bytes.TrimSpace(record)[1:]
	out := make([]byte, 0, len(`{"version":,`)+len(v)+len(rest))
	out = append(append(append(out, `{"version":`...), v...), ',')
	if bytes.HasPrefix(bytes.TrimSpace(rest), []byte("}")) {
		out = out[:len(out)-1]
	}
	return append(out, rest...), nil
}

// marshalVersion encodes a version as a JSON string, as [Marshal] does; a commit id, tag or
// branch name of plain characters needs no escaping.
func marshalVersion(version string) ([]byte, error) {
	for i := 0; i < len(version); i++ {
		if c := version[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return Marshal(version)
		}
	}
	return append(append(append(make([]byte, 0, len(version)+2), '"'), version...), '"'), nil
}

// hasMember reports whether obj, a valid JSON object, has a member named name at its top
// level (an escaped name is decoded before it is compared).
func hasMember(obj []byte, name string) bool {
	depth := 0
	wantName := false // the next string at depth 1 is a member's name
	for i := 0; i < len(obj); i++ {
		switch obj[i] {
		case '{':
			depth++
			wantName = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			wantName = depth == 1
		case '"':
			end, escaped := i+1, false
			for ; end < len(obj) && obj[end] != '"'; end++ {
				if obj[end] == '\\' {
					escaped = true
					end++
				}
			}
			if wantName {
				if escaped {
					var s string
					if json.Unmarshal(obj[i:end+1], &s) == nil && s == name {
						return true
					}
				} else if string(obj[i+1:end]) == name {
					return true
				}
				wantName = false
			}
			i = end
		}
	}
	return false
}

// ErrorJSON renders an error as the MaRDI framings carry it: {"error":KIND,"message":TEXT}.
func ErrorJSON(e *doip.Error) ([]byte, error) {
	return Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{string(e.Kind), e.Message})
}

// Marshal encodes v compactly without escaping <, > and &, as the reference encoder does.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
