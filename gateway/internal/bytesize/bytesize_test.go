package bytesize

import "testing"

func TestFormat(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{-1: "", 0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 8294: "8.1 KiB", 3 << 29: "1.5 GiB", 1 << 62: "4.0 EiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}
