// Package objectid turns object ids and component ids, checked by package doipid, into
// storage keys following the key layout of package storage, and names type records.
//
// Storage keys have the lakeFS layout {branch}/{pp}/{qq}/{rr}/{QID}/components/{componentId},
// where pp/qq/rr is [Shard].
package objectid

import (
	"fmt"
	"strings"

	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

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
// [doipid.ResolveComponentID]; this function does not check it.
func ComponentKey(branch, qid, componentID string) string {
	return ObjectPrefix(branch, qid) + componentID
}

// RecordFile is the name of the record of an object made through the gateway, beside its
// components folder.
const RecordFile = "record.json"

// RecordKey returns the storage key of the record of an object made through the gateway:
// "{branch}/{shard}/{QID}/record.json".
func RecordKey(branch, qid string) string {
	return branch + "/" + Shard(qid) + "/" + qid + "/" + RecordFile
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
// letter. An id that names a type record with a bad type id gives ok and a *doipid.IDError.
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
		return "", true, &doipid.IDError{ID: id, Reason: reason}
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
