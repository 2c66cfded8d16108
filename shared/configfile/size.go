package configfile

import (
	"errors"
	"strconv"
	"strings"
)

// ParseSize reads a number of bytes with an optional unit: B, KiB, MiB, GiB (also K, M, G,
// KB, MB, GB, all powers of 1024), case-insensitive: "512MiB", "1 GiB", "4096".
func ParseSize(v string) (uint64, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := v, ""
	if i >= 0 {
		num, unit = v[:i], strings.TrimSpace(v[i:])
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, errors.New("not a size")
	}
	var shift uint
	switch strings.ToLower(unit) {
	case "", "b":
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	default:
		return 0, errors.New("unknown unit")
	}
	if n > (1<<63-1)>>shift {
		return 0, errors.New("too large")
	}
	return n << shift, nil
}
