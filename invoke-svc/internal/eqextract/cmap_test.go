package eqextract

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestParseToUnicode(t *testing.T) {
	t.Parallel()
	src := `/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange
% a comment with <ff> and (parens
3 beginbfchar
<0003> <0020>
<0011> <03B1>
<0012> <D835DC00>
endbfchar
2 beginbfrange
<0020> <0029> <0041>
<0030> <0032> [<0078> <0079> (\000z)]
endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end`
	m, err := parseToUnicode(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		code uint32
		want string
	}{
		{0x03, " "}, {0x11, "α"}, {0x12, "𝐀"}, {0x20, "A"}, {0x29, "J"}, {0x30, "x"}, {0x31, "y"}, {0x32, "z"},
		{0x2a, ""}, {0x33, ""}, {0x01, ""},
	} {
		if got := m.lookup(tt.code, 2); got != tt.want {
			t.Errorf("lookup(%#x) = %q, want %q", tt.code, got, tt.want)
		}
	}
	if got := m.lookup(0x11, 1); got != "" {
		t.Errorf("a one-byte code matched a two-byte entry: %q", got)
	}
}

// The counts a CMap announces are not trusted: 2000000000 beginbfchar with nothing after it
// is an empty section (the PDF reader's own parser loops two billion times).
func TestParseToUnicodeAnnouncedCounts(t *testing.T) {
	t.Parallel()
	m, err := parseToUnicode(strings.NewReader("2000000000 beginbfchar\nendbfchar\n3 beginbfchar <41> <0042> endbfchar 9 beginbfrange endbfrange"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.single) != 1 || m.lookup(0x41, 1) != "B" || len(m.ranges) != 0 {
		t.Errorf("got %d single entries, %d ranges", len(m.single), len(m.ranges))
	}
}

func TestParseToUnicodeBudgets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, src, want string
	}{
		{"decoded bytes", strings.Repeat(" ", int(MaxCMapBytes)+1), "decoded-bytes budget of 4194304 bytes"},
		{"operands", strings.Repeat("1 ", maxCMapOperands+1), "operand budget of 16384"},
		{"entries", strings.Repeat("100 beginbfchar "+strings.Repeat("<01> <0041> ", 100)+"endbfchar\n", MaxCMapEntries/100+1), "entry budget of 131072"},
		{"nesting", "[[[[[[[[[<01>]]]]]]]]]", "nested too deeply"},
		{"hex", "<0g>", "bad hex string"},
		{"unclosed", "(abc", "not closed"},
	} {
		_, err := parseToUnicode(strings.NewReader(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one naming %q", tt.name, err, tt.want)
		}
		if strings.Contains(tt.want, "budget") && !errors.Is(err, ErrTooComplex) {
			t.Errorf("%s: err = %v, want ErrTooComplex", tt.name, err)
		}
	}
}

// allocated returns the bytes f allocates (all goroutines: run it in a test of its own,
// not in parallel with others).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzParseToUnicode: no panic, and the parser allocates no more than a small multiple of
// its input (it never trusts a count).
func FuzzParseToUnicode(f *testing.F) {
	f.Add([]byte("1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <01> <0041> <02> (\\000B) endbfchar"))
	f.Add([]byte("1 beginbfrange <0000> <00FF> [<0041> <0042>] endbfrange 2000000000 beginbfchar endbfchar"))
	f.Add([]byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap << /A 1 >> def endcmap end end"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m *toUnicode
		n := allocated(func() { m, _ = parseToUnicode(bytes.NewReader(data)) })
		if limit := uint64(64<<10 + 64*len(data)); n > limit {
			t.Fatalf("parsing %d bytes allocated %d bytes, over %d", len(data), n, limit)
		}
		if m != nil {
			for c := uint32(0); c < 300; c++ {
				m.lookup(c, 1)
				m.lookup(c, 2)
			}
		}
	})
}
