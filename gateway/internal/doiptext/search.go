package doiptext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

// Search, in the standard framing (the writes-and-search contract, §5): the attributes
// "query" (required), "pageNum" (default 0), "pageSize" (default -1: the service's page),
// "sortFields" ("/name,/date DESC") and "type" ("id" for ids only, else full objects); no
// input. The answer is the status segment, then one JSON segment {"size":N,"results":[…]},
// laid out as Cordra lays it out (2-space indent), written one result at a time.

// maxSortFields bounds the keys of sortFields.
const maxSortFields = 16

// searchAttributes reads a search's attributes.
func searchAttributes(req *doip.Request, attrs map[string]json.RawMessage, input bool) error {
	if input {
		return badRequest("Unexpected input: a search takes no input")
	}
	sr := &doip.SearchRequest{PageSize: -1}
	if raw, ok := present(attrs, "query"); ok {
		if raw[0] != '"' || json.Unmarshal(raw, &sr.Query) != nil {
			return badRequest("attributes.query must be a string, not %s", jsonkind.Described(raw))
		}
	}
	for _, f := range []struct {
		key string
		dst *int
		min int
	}{{"pageNum", &sr.PageNum, 0}, {"pageSize", &sr.PageSize, -1}} {
		raw, ok := present(attrs, f.key)
		if !ok {
			continue
		}
		n, err := jsonInt(raw)
		if err != nil || n < f.min {
			return badRequest("attributes.%s must be a whole number from %d, not %s", f.key, f.min, raw)
		}
		*f.dst = n
	}
	if raw, ok := present(attrs, "sortFields"); ok {
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return badRequest("attributes.sortFields must be a string such as \"/name,/date DESC\", not %s", jsonkind.Described(raw))
		}
		fields, err := ParseSortFields(s)
		if err != nil {
			return badRequest("attributes.sortFields: %v", err)
		}
		sr.SortFields = fields
	}
	if raw, ok := present(attrs, "type"); ok {
		var t string
		if raw[0] == '"' && json.Unmarshal(raw, &t) == nil && t == "id" {
			sr.IDsOnly = true
		}
	}
	req.Search = sr
	return nil
}

// jsonInt reads an integer given as a JSON number or a numeric string, as Cordra's reader
// takes both.
func jsonInt(raw json.RawMessage) (int, error) {
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	} else {
		s = string(raw)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, fmt.Errorf("not a whole number")
	}
	return int(f), nil
}

// ParseSortFields reads Cordra's sortFields: comma-separated fields, each optionally followed
// by a space and a direction, of which only DESC (any case) reverses.
func ParseSortFields(s string) ([]doip.SortField, error) {
	var out []doip.SortField
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, dir, _ := strings.Cut(part, " ")
		dir = strings.TrimSpace(dir)
		if len(out) == maxSortFields {
			return nil, fmt.Errorf("more than %d fields", maxSortFields)
		}
		out = append(out, doip.SortField{Field: name, Desc: strings.EqualFold(dir, "DESC")})
	}
	return out, nil
}

// searchMatch names the equation a formula query found: attributes.match of a full result.
type searchMatch struct {
	Equation string  `json:"equation,omitempty"`
	Page     int     `json:"page,omitempty"`
	LaTeX    string  `json:"latex,omitempty"`
	Overlap  float64 `json:"overlap"`
}

// writeSearch writes a search's answer: the status segment, then the results segment, each
// result rendered and written as the backend yields it. A failure of the backend after the
// first byte leaves the message broken: the error is returned and the connection closes.
func (c *ServerCodec) writeSearch(ok firstSegment, res *doip.SearchResult) error {
	if err := c.wr.WriteJSON(ok); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c.bw, "{\n  \"size\": %d,\n  \"results\": [", res.Size); err != nil {
		return err
	}
	n := 0
	if res.Hits != nil {
		for h, err := range res.Hits {
			if err != nil {
				return err
			}
			item, err := c.searchItem(h, res.Request.IDsOnly)
			if err != nil {
				return err
			}
			sep := "\n    "
			if n > 0 {
				sep = ",\n    "
			}
			if _, err := c.bw.WriteString(sep); err != nil {
				return err
			}
			if _, err := c.bw.Write(item); err != nil {
				return err
			}
			n++
		}
	}
	end := "]\n}\n#\n"
	if n > 0 {
		end = "\n  ]\n}\n#\n"
	}
	if _, err := c.bw.WriteString(end); err != nil {
		return err
	}
	return c.wr.End()
}

// searchItem renders one result, indented for its place in the results array.
func (c *ServerCodec) searchItem(h *doip.SearchHit, idsOnly bool) ([]byte, error) {
	var v any = h.ID
	if !idsOnly {
		rec := h.Record
		if rec == nil {
			rec = &doip.Record{ObjectID: h.ID}
		}
		do := recordDO(nil, &doip.Response{ObjectID: h.ID, Record: rec})
		if e := h.Equation; e != nil {
			do.Attributes.Match = &searchMatch{Equation: e.Number, Page: e.Page, LaTeX: e.LaTeX, Overlap: e.Overlap}
		}
		v = do
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("doiptext: search result %s: %w", h.ID, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
