// Package doipid is the grammar of the ids DOIP clients send, for every process that reads
// them: object ids (QIDs, [Normalize]) and component ids ([ResolveComponentID]), in the short
// form ("main-pdf", "derived/{workflow}/{file}") or the long form
// "doip:bitstream/{QID}/{id}" ([LongComponentID]).
//
// A QID is "Q" followed by 1 to [MaxDigits] digits, case-insensitive, normalised to upper case;
// a "_FULLTEXT" suffix names the same object.
//
// Component ids arrive from DOIP clients, so [ResolveComponentID] is the gate that keeps them
// inside the object's prefix: it accepts a curator's file name ("fulltext.pdf", "main-pdf") or
// a derived output ("derived/{workflow}/{file}"), in the short form or as
// "doip:bitstream/{QID}/{id}", and rejects anything else before it reaches storage.
// This package does not check that a component exists, nor does it know where components are
// stored; the record and storage decide that.
package doipid

import (
	"fmt"
	"unicode/utf8"
)

// maxQuoted bounds how much of an offending id an error message repeats, so a huge id cannot
// produce a huge gRPC status message.
const maxQuoted = 80

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
