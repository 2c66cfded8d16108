package doipid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxComponentIDLen is the largest short component id, in bytes.
const MaxComponentIDLen = 255

// BitstreamPrefix starts the long form of a component id: "doip:bitstream/Q123/main-pdf".
const BitstreamPrefix = "doip:bitstream/"

// DerivedDir is the first segment of derived component ids: "derived/{workflow}/{file}".
const DerivedDir = "derived"

// ComponentIDError reports a component id that is malformed or could escape its object.
type ComponentIDError struct {
	ID     string // the id as given
	Reason string // what is wrong, lower case, for people
}

func (e *ComponentIDError) Error() string {
	return fmt.Sprintf("doipid: invalid component id %s: %s", Quote(e.ID), e.Reason)
}

// LongComponentID returns the long form of the short component id of the object qid:
// "doip:bitstream/{qid}/{id}". It checks neither.
func LongComponentID(qid, id string) string {
	return BitstreamPrefix + qid + "/" + id
}

// IsDerived reports whether a resolved component id names a derived output
// ("derived/{workflow}/{file}").
func IsDerived(componentID string) bool {
	return strings.HasPrefix(componentID, DerivedDir+"/")
}

// ResolveComponentID returns the short form of a component id of the object qid.
// It accepts "doip:bitstream/Q123/main-pdf", whose QID must name the same object, or the short
// form "main-pdf". A short id is one file name, or "derived/{workflow}/{file}"; it must not be
// empty or longer than [MaxComponentIDLen] bytes, and must not contain segments that start
// with "." (so no "." or ".." and no hidden files), empty segments, a leading "/", "\", "%",
// control characters or invalid UTF-8.
func ResolveComponentID(qid, raw string) (string, error) {
	if len(raw) > MaxComponentIDLen+len(BitstreamPrefix)+len("Q")+MaxDigits+len(fullTextSuffix)+1 {
		return "", &ComponentIDError{ID: raw, Reason: fmt.Sprintf("longer than %d bytes", MaxComponentIDLen)}
	}
	id := raw
	if len(id) >= len(BitstreamPrefix) && strings.EqualFold(id[:len(BitstreamPrefix)], BitstreamPrefix) {
		rest := id[len(BitstreamPrefix):]
		objPart, short, ok := strings.Cut(rest, "/")
		if !ok {
			return "", &ComponentIDError{ID: raw, Reason: "want doip:bitstream/{object id}/{component id}"}
		}
		other, err := Normalize(objPart)
		if err != nil {
			return "", &ComponentIDError{ID: raw, Reason: fmt.Sprintf("object id %s is not a QID", Quote(objPart))}
		}
		if want, err := Normalize(qid); err != nil || other != want {
			return "", &ComponentIDError{ID: raw, Reason: fmt.Sprintf("names object %s, not %s", other, qid)}
		}
		id = short
	}
	if reason := checkShort(id); reason != "" {
		return "", &ComponentIDError{ID: raw, Reason: reason}
	}
	return id, nil
}

// checkShort returns why a short component id is not acceptable, or "".
func checkShort(id string) string {
	switch {
	case id == "":
		return "empty"
	case len(id) > MaxComponentIDLen:
		return fmt.Sprintf("longer than %d bytes", MaxComponentIDLen)
	case !utf8.ValidString(id):
		return "not valid UTF-8"
	case id[0] == '/':
		return "starts with /"
	}
	for _, r := range id {
		switch {
		case r == '\\':
			return `contains \`
		case r == '%':
			return "contains %"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return "contains a control character"
		}
	}
	segs := strings.Split(id, "/")
	for _, seg := range segs {
		switch {
		case seg == "":
			return "contains an empty path segment"
		case seg == "." || seg == "..":
			return fmt.Sprintf("contains a %q path segment", seg)
		case seg[0] == '.':
			// Hidden names are never components: the folder backend's temporary files
			// (".tmp-…") and anything else a curator did not mean to publish.
			return fmt.Sprintf("path segment %s starts with \".\"", Quote(seg))
		}
	}
	switch {
	case len(segs) == 1:
		return ""
	case len(segs) == 3 && segs[0] == DerivedDir:
		return ""
	default:
		return "may contain / only as derived/{workflow}/{file}"
	}
}
