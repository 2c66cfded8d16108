// Package bytesize writes sizes in bytes for people, in binary units: "512 B", "1.5 MiB".
package bytesize

import "strconv"

// Format writes n bytes with one decimal in the largest binary unit below it: "512 B",
// "8.1 KiB", "1.5 GiB". A negative n, an unknown size, is "".
func Format(n int64) string {
	if n < 0 {
		return ""
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
