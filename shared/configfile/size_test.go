package configfile_test

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/configfile"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{in: "4096", want: 4096}, {in: "512MiB", want: 512 << 20}, {in: " 1 GiB ", want: 1 << 30}, {in: "3k", want: 3 << 10},
		{in: "2gb", want: 2 << 30}, {in: "10b", want: 10},
		{in: "", bad: true}, {in: "-1", bad: true}, {in: "1TiB", bad: true}, {in: "MiB", bad: true}, {in: "9999999999999G", bad: true},
	} {
		got, err := configfile.ParseSize(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
