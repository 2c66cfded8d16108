package doipid

import (
	"fmt"
	"strings"
)

// MaxDigits is the largest number of digits a QID may have.
const MaxDigits = 12

// fullTextSuffix names the same object as the bare QID.
const fullTextSuffix = "_FULLTEXT"

// IDError reports an object id that is not a QID.
type IDError struct {
	ID     string // the id as given
	Reason string // what is wrong, lower case, for people
}

func (e *IDError) Error() string {
	return fmt.Sprintf("doipid: invalid object id %s: %s", Quote(e.ID), e.Reason)
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
