package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// ErrPermanent is wrapped into storage failures that trying again, or on another replica,
// cannot fix: a full disk or quota, a read-only or unwritable folder, and a path that leads
// out of the bucket's root (a symbolic link pointing outside). Services answer them as
// internal errors, never as "unavailable", so that nobody retries them.
var ErrPermanent = errors.New("storage: permanent failure")

// permanentErrnos are the system errors [Permanent] marks.
var permanentErrnos = []syscall.Errno{
	syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.ELOOP,
}

// pathEscapes is the text of the error an [os.Root] returns for a path, or a symbolic link,
// that leads outside it; the os package does not export the value.
const pathEscapes = "path escapes from parent"

// Permanent returns err wrapped with [ErrPermanent] when it is a failure of that kind, and err
// unchanged otherwise (nil stays nil).
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	for _, errno := range permanentErrnos {
		if errors.Is(err, errno) {
			return fmt.Errorf("%w: %w", ErrPermanent, err)
		}
	}
	if IsEscape(err) {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return err
}

// IsEscape reports whether err is an [os.Root]'s refusal of a path that leads outside it.
func IsEscape(err error) bool {
	var pe *fs.PathError
	for e := err; errors.As(e, &pe); e = pe.Err {
		if pe.Err != nil && pe.Err.Error() == pathEscapes {
			return true
		}
	}
	return false
}
