package searchindex

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQueryAccepts(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		`type:Document`,
		`+type:Schema +/name:User`,
		`title:"composite trapezoidal" AND author:Lindqvist`,
		`(richardson OR romberg) AND NOT type:Person`,
		`a && b || !c`,
		`profile.datePublished:[2024-01-01 TO 2024-12-31]`,
		`profile.numberOfPages:[1 TO 10}`,
		`profile.numberOfPages:>=3`,
		`title:trap*`,
		`title:/trap.*/`,
		`richardsn~1 trapezoidal^2`,
		`formula:"\int_a^b f(x)\,dx"`,
		`formula:x^2+y^2`,
		`id:Q123 formula:"\frac{\"a\"}{b}"`,
		`-type:Person`,
		`title:foo\:bar`,
	} {
		if _, err := parseQuery(q); err != nil {
			t.Errorf("parseQuery(%q): %v", q, err)
		}
	}
}

func TestParseQueryRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q, want string
		broad   bool
	}{
		{q: `title:"open`, want: "not closed"},
		{q: `(a OR b`, want: "not closed"},
		{q: `a)`, want: "unexpected"},
		{q: `AND`, want: "needs a clause"},
		{q: `title:`, want: "missing"},
		{q: `x:[1 TO`, want: "not closed"},
		{q: `x:[1 2]`, want: "[from TO to]"},
		{q: `*`, broad: true},
		{q: `title:a*`, broad: true},
		{q: `/.*/`, broad: true},
		{q: `x:[* TO *]`, broad: true},
		{q: `a~5`, want: "fuzziness"},
		{q: strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), want: "nested"},
		{q: strings.Repeat("a ", 300), want: "clauses"},
		{q: strings.Repeat("a", maxQueryLen+1), want: "bytes"},
		{q: "", want: "empty"},
		{q: `formula:"\,\;"`, want: "nothing to search"},
	} {
		_, err := parseQuery(tc.q)
		if err == nil {
			t.Errorf("parseQuery(%.40q) accepted", tc.q)
			continue
		}
		if tc.broad != errors.Is(err, ErrTooBroad) {
			t.Errorf("parseQuery(%.40q): %v, too broad %v", tc.q, err, tc.broad)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseQuery(%.40q): %v, want it to say %q", tc.q, err, tc.want)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`type:Document`, `+a -b (c OR d)`, `x:[1 TO 2]`, `formula:"\int"`, `a~1^2`, `/ab.*/`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseQuery(s)
		if err == nil && p.q == nil {
			t.Fatal("no query and no error")
		}
	})
}
