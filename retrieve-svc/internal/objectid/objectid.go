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
	var b strings.Builder
	b.Grow(shardLen)
	writeShard(&b, qid)
	return b.String()
}

// shardLen is the length of every shard: "pp/qq/rr".
const shardLen = 8

// writeShard writes the [Shard] of qid to b.
func writeShard(b *strings.Builder, qid string) {
	digits := strings.TrimLeft(qid, "Qq")
	var d [6]byte
	if pad := 6 - len(digits); pad > 0 {
		copy(d[:pad], "000000")
		copy(d[pad:], digits)
	} else {
		copy(d[:], digits)
	}
	b.Write(d[0:2])
	b.WriteByte('/')
	b.Write(d[2:4])
	b.WriteByte('/')
	b.Write(d[4:6])
}

// objectKey returns "{branch}/{shard}/{QID}/" and then rest, built in one allocation.
func objectKey(branch, qid string, rest ...string) string {
	n := len(branch) + 1 + shardLen + 1 + len(qid) + 1
	for _, r := range rest {
		n += len(r)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(branch)
	b.WriteByte('/')
	writeShard(&b, qid)
	b.WriteByte('/')
	b.WriteString(qid)
	b.WriteByte('/')
	for _, r := range rest {
		b.WriteString(r)
	}
	return b.String()
}

// ObjectPrefix returns the key prefix, ending in "/", under which the components of a
// normalised QID live: "{branch}/{shard}/{QID}/components/".
func ObjectPrefix(branch, qid string) string {
	return objectKey(branch, qid, "components/")
}

// ComponentKey returns the storage key of one component of a normalised QID:
// "{branch}/{shard}/{QID}/components/{componentID}". componentID must come from
// [doipid.ResolveComponentID]; this function does not check it.
func ComponentKey(branch, qid, componentID string) string {
	return objectKey(branch, qid, "components/", componentID)
}

// RecordFile is the name of the record of an object made through the gateway, beside its
// components folder.
const RecordFile = "record.json"

// RecordKey returns the storage key of the record of an object made through the gateway:
// "{branch}/{shard}/{QID}/record.json".
func RecordKey(branch, qid string) string {
	return objectKey(branch, qid, RecordFile)
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
