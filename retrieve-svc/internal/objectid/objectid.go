// Package objectid normalises object ids (QIDs) and component ids, and turns them into storage
// keys, following the key layout of package storage.
//
// A QID is "Q" followed by 1 to [MaxDigits] digits, case-insensitive, normalised to upper case;
// a "_FULLTEXT" suffix names the same object. Storage keys have the lakeFS layout
// {branch}/{pp}/{qq}/{rr}/{QID}/components/{componentId}, where pp/qq/rr is [Shard].
//
// Component ids arrive from DOIP clients, so [ResolveComponentID] is the gate that keeps them
// inside the object's prefix: it accepts a curator's file name ("fulltext.pdf", "main-pdf") or
// a derived output ("derived/{workflow}/{file}"), in the short form or as
// "doip:bitstream/{QID}/{id}", and rejects anything else before it reaches storage.
// This package does not check that a component exists; the record and storage decide that.
package objectid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDigits is the largest number of digits a QID may have.
const MaxDigits = 12

// MaxComponentIDLen is the largest short component id, in bytes.
const MaxComponentIDLen = 255

// BitstreamPrefix starts the long form of a component id: "doip:bitstream/Q123/main-pdf".
const BitstreamPrefix = "doip:bitstream/"

// DerivedDir is the first segment of derived component ids: "derived/{workflow}/{file}".
const DerivedDir = "derived"

// fullTextSuffix names the same object as the bare QID.
const fullTextSuffix = "_FULLTEXT"

// maxQuoted bounds how much of an offending id an error message repeats, so a huge id cannot
// produce a huge gRPC status message.
const maxQuoted = 80

// IDError reports an object id that is not a QID.
type IDError struct {
	ID     string // the id as given
	Reason string // what is wrong, lower case, for people
}

func (e *IDError) Error() string {
	return fmt.Sprintf("objectid: invalid object id %s: %s", Quote(e.ID), e.Reason)
}

// ComponentIDError reports a component id that is malformed or could escape its object.
type ComponentIDError struct {
	ID     string // the id as given
	Reason string // what is wrong, lower case, for people
}

func (e *ComponentIDError) Error() string {
	return fmt.Sprintf("objectid: invalid component id %s: %s", Quote(e.ID), e.Reason)
}

// Quote returns s as a Go-quoted string, shortened to a bounded length. Control characters
// and invalid UTF-8 come out escaped, so the result is safe to show to clients and to log.
func Quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

// Normalize returns the canonical form of an object id: "q123", "Q123" and "Q123_fulltext" all
// become "Q123". The digits must not start with 0, so that one object has one name.
func Normalize(id string) (string, error) {
	s := id
	if n := len(s) - len(fullTextSuffix); n > 0 && strings.EqualFold(s[n:], fullTextSuffix) {
		s = s[:n]
	}
	if s == "" || (s[0] != 'Q' && s[0] != 'q') {
		return "", &IDError{ID: id, Reason: fmt.Sprintf("want Q followed by 1 to %d digits", MaxDigits)}
	}
	digits := s[1:]
	switch {
	case digits == "":
		return "", &IDError{ID: id, Reason: "no digits after Q"}
	case len(digits) > MaxDigits:
		return "", &IDError{ID: id, Reason: fmt.Sprintf("more than %d digits", MaxDigits)}
	case digits[0] == '0':
		return "", &IDError{ID: id, Reason: "digits start with 0"}
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", &IDError{ID: id, Reason: fmt.Sprintf("want Q followed by 1 to %d digits", MaxDigits)}
		}
	}
	return "Q" + digits, nil
}

// Shard returns the shard folders of a normalised QID: its digits left-padded with zeros to six,
// the first six split 2-2-2. Shard("Q123") is "00/01/23"; Shard("Q6190920") is "61/90/92".
func Shard(qid string) string {
	digits := strings.TrimLeft(qid, "Qq")
	if len(digits) < 6 {
		digits = strings.Repeat("0", 6-len(digits)) + digits
	}
	return digits[0:2] + "/" + digits[2:4] + "/" + digits[4:6]
}

// ObjectPrefix returns the key prefix, ending in "/", under which the components of a
// normalised QID live: "{branch}/{shard}/{QID}/components/".
func ObjectPrefix(branch, qid string) string {
	return branch + "/" + Shard(qid) + "/" + qid + "/components/"
}

// ComponentKey returns the storage key of one component of a normalised QID:
// "{branch}/{shard}/{QID}/components/{componentID}". componentID must come from
// [ResolveComponentID]; this function does not check it.
func ComponentKey(branch, qid, componentID string) string {
	return ObjectPrefix(branch, qid) + componentID
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

// TypePrefix starts the object id of a type record: "types/ScholarlyArticle".
const TypePrefix = "types/"

// MaxTypeIDLen is the largest type id, in bytes.
const MaxTypeIDLen = 64

// TypeID returns the type id ("ScholarlyArticle") named by an object id of a type record,
// and whether id names a type record at all. Type records are named "types/{TypeId}" (the
// prefix in any case, as MaRDI's DOIP server accepts it) or by their URL, any http(s) URL
// whose path ends in "/types/{TypeId}" (the form a record's digitalObjectType takes). Type
// ids are case-sensitive: 1 to [MaxTypeIDLen] ASCII letters and digits, starting with a
// letter. An id that names a type record with a bad type id gives ok and an *IDError.
func TypeID(id string) (typeID string, ok bool, err error) {
	switch {
	case len(id) >= len(TypePrefix) && strings.EqualFold(id[:len(TypePrefix)], TypePrefix):
		typeID = id[len(TypePrefix):]
	case strings.HasPrefix(id, "https://") || strings.HasPrefix(id, "http://"):
		i := strings.LastIndex(id, "/"+TypePrefix)
		if i < 0 || strings.ContainsAny(id, "?#") {
			return "", false, nil
		}
		typeID = id[i+1+len(TypePrefix):]
	default:
		return "", false, nil
	}
	if reason := checkTypeID(typeID); reason != "" {
		return "", true, &IDError{ID: id, Reason: reason}
	}
	return typeID, true, nil
}

func checkTypeID(s string) string {
	if s == "" || len(s) > MaxTypeIDLen {
		return fmt.Sprintf("want types/ followed by a type id of 1 to %d letters and digits", MaxTypeIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		isLetter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !isLetter && (i == 0 || c < '0' || c > '9') {
			return "a type id is letters and digits, starting with a letter"
		}
	}
	return ""
}
