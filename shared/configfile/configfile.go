// Package configfile reads the system-wide configuration file: one YAML file,
// config.yaml, with one top-level section per process (gateway, retrieve-svc, invoke-svc).
// Within a section the keys are the settings' flag names (port, lakefs-url, …); a setting's
// environment variable name (LAKEFS_URL) is accepted too. Values are scalars, read as the text
// written in the file; a setting that takes a comma-separated list also accepts a YAML list.
//
// The package only reads and checks the file's shape: unknown sections, unknown keys, values
// that are mappings, and lists where a single value is wanted are errors naming the file, the
// line and the key. Checking a value's meaning is the caller's job; each [Value] carries the
// file, line and key it came from for the caller's messages. No error here ever shows a value,
// so secrets in the file stay out of messages.
//
// Each process's config package layers the file under environment variables and flags:
// default, then file, then environment, then flag.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is the file read when neither --config nor an environment variable names
// one; it is optional.
const DefaultPath = "config.yaml"

// MaxSize is the largest configuration file read, in bytes.
const MaxSize = 1 << 20

// Environment variables that name the configuration file, in the order they are consulted.
var envNames = []string{"DOIP_CONFIG", "CONFIG"}

// Sections are the top-level keys a configuration file may have: one per process.
var Sections = []string{"gateway", "retrieve-svc", "invoke-svc"}

// Key describes one setting a section may hold.
type Key struct {
	// Name is the canonical key: the setting's flag name, or, for a setting without a flag,
	// [KeyName] of its environment variable.
	Name string
	// Env is the setting's environment variable, accepted as a key too; "" when none.
	Env string
	// List marks a setting that takes a comma-separated list: a YAML list is accepted and
	// joined with commas.
	List bool
}

// KeyName is the key of a setting in the file: its flag name, or for a setting read from the
// environment only, the variable in lower case with "-" for "_" (LAKEFS_PASSWORD →
// lakefs-password).
func KeyName(flag, env string) string {
	if flag != "" {
		return flag
	}
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// Value is one setting read from the file.
type Value struct {
	// Text is the value as written (a list joined with commas; null is "").
	Text string
	// Source names where it came from, for messages: `config.yaml:12 (gateway.port)`, with the
	// key as the file spells it.
	Source string
}

// Values maps a setting's canonical key ([Key.Name]) to its value in the file.
type Values map[string]Value

// Location is the configuration file chosen by [Find].
type Location struct {
	// Path is the file to read; "" means none.
	Path string
	// Explicit is true when a flag or an environment variable named the file (or asked for
	// none, with an empty --config): a missing file is then an error.
	Explicit bool
	// Source says how the file was chosen: "flag --config", "environment DOIP_CONFIG",
	// "the working directory".
	Source string
}

// Find chooses the configuration file. flagValue and flagGiven are the caller's parsed
// --config flag: when given, its value is the file, and an empty value means no file at all.
// Otherwise the environment variable DOIP_CONFIG, then CONFIG, names the file (empty counts as
// unset). Otherwise the file is [DefaultPath] in the working directory when it exists, and
// none when it does not.
func Find(flagValue string, flagGiven bool, getenv func(string) string) Location {
	if flagGiven {
		return Location{Path: flagValue, Explicit: true, Source: "flag --config"}
	}
	for _, name := range envNames {
		if v := getenv(name); v != "" {
			return Location{Path: v, Explicit: true, Source: "environment " + name}
		}
	}
	if _, err := os.Stat(DefaultPath); errors.Is(err, fs.ErrNotExist) {
		return Location{Source: "the working directory"}
	}
	// Present, or there but not readable: reading it will tell.
	return Location{Path: DefaultPath, Source: "the working directory"}
}

// FlagUsage is the usage text for a --config flag.
const FlagUsage = "configuration file, YAML, one section per process (env DOIP_CONFIG or CONFIG; " +
	"default " + DefaultPath + " when it exists; an empty value reads no file)"

// Load reads section from the file at l.Path, accepting the keys given. With no path it
// returns no values. A file that cannot be read is an error naming how it was chosen. Like
// [Load], it returns the values it could read along with the errors.
func (l Location) Load(section string, keys []Key) (Values, error) {
	if l.Path == "" {
		return Values{}, nil
	}
	v, err := Load(l.Path, section, keys)
	var re *readError
	if errors.As(err, &re) {
		return v, fmt.Errorf("config: file %s (from %s): %w", l.Path, l.Source, re.err)
	}
	return v, err
}

// readError is a failure to read the file, as opposed to a problem in it.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// Load reads the file at path, at most [MaxSize] bytes, and returns section's values; see
// [Parse].
func Load(path, section string, keys []Key) (Values, error) {
	data, err := readFile(path)
	if err != nil {
		return Values{}, &readError{err}
	}
	return Parse(path, data, section, keys)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named by the caller's message
		}
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, errors.New("is a directory")
	} else if err == nil && fi.Mode().IsRegular() && fi.Size() > MaxSize {
		return nil, fmt.Errorf("%d bytes, larger than the limit of %d", fi.Size(), MaxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than the limit of %d bytes", MaxSize)
	}
	return data, nil
}

// Parse reads section from data, a configuration file called name (for messages). Every
// top-level key must be one of [Sections], and every key in section one of keys (by name or
// environment variable). Other sections are checked only to be mappings: their keys belong to
// other processes. An empty file, or one without the section, gives no values.
//
// Every problem is reported (errors.Join), each naming the file, the line and the key, never
// the value; the values that could be read are returned too, so that the caller can report
// problems with them in the same pass.
func Parse(name string, data []byte, section string, keys []Key) (Values, error) {
	vals := Values{}
	if !slices.Contains(Sections, section) {
		return vals, fmt.Errorf("config: %s: no section %q; sections are %s", name, section, strings.Join(Sections, ", "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return vals, nil
	} else if err != nil {
		return vals, fmt.Errorf("config: %s: %v", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return vals, fmt.Errorf("config: %s:%d: a second YAML document; the file must hold one", name, extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return vals, fmt.Errorf("config: %s: %v", name, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return vals, nil
		}
		root = root.Content[0]
	}
	root = deref(root)
	if isNull(root) {
		return vals, nil
	}
	if root.Kind != yaml.MappingNode {
		return vals, fmt.Errorf("config: %s:%d: want a mapping of sections (%s)", name, root.Line, strings.Join(Sections, ", "))
	}

	p := parser{name: name, section: section, keys: keys, vals: vals}
	seen := map[string]int{} // section → line
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k.Line, "a section name must be a plain word")
			continue
		}
		if !slices.Contains(Sections, k.Value) {
			p.errorf(k.Line, "unknown section %q%s; sections are %s", clip(k.Value), suggest(k.Value, Sections), strings.Join(Sections, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(k.Line, "section %s again (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case isNull(v):
		case v.Kind != yaml.MappingNode:
			p.errorf(k.Line, "section %s: want a mapping of settings", k.Value)
		case k.Value == section:
			p.readSection(v)
		}
	}
	return vals, errors.Join(p.errs...)
}

// parser collects one section's values and every problem found.
type parser struct {
	name, section string
	keys          []Key
	vals          Values
	errs          []error
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("config: %s:%d: %s", p.name, line, fmt.Sprintf(format, args...)))
}

// lookup finds the key spelt s, by name or environment variable.
func (p *parser) lookup(s string) (Key, bool) {
	for _, k := range p.keys {
		if s == k.Name || (k.Env != "" && s == k.Env) {
			return k, true
		}
	}
	return Key{}, false
}

func (p *parser) readSection(m *yaml.Node) {
	seen := map[string]int{} // canonical key → line
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], deref(m.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			p.errorf(kn.Line, "%s: a key must be a plain word", p.section)
			continue
		}
		written := p.section + "." + clip(kn.Value)
		key, ok := p.lookup(kn.Value)
		if !ok {
			var names []string
			for _, k := range p.keys {
				names = append(names, k.Name)
			}
			p.errorf(kn.Line, "unknown key %s%s", written, suggest(kn.Value, names))
			continue
		}
		if first, dup := seen[key.Name]; dup {
			p.errorf(kn.Line, "%s: %s is set again (first at line %d)", written, key.Name, first)
			continue
		}
		seen[key.Name] = kn.Line
		text, err := scalarText(vn, key.List)
		if err != nil {
			p.errorf(kn.Line, "%s: %v", written, err)
			continue
		}
		p.vals[key.Name] = Value{Text: text, Source: fmt.Sprintf("%s:%d (%s)", p.name, kn.Line, written)}
	}
}

// scalarText is a value's text: a scalar as written (null as ""), or, when list is true, a
// list of scalars joined with commas.
func scalarText(n *yaml.Node, list bool) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		if !list {
			return "", errors.New("want a single value, not a list")
		}
		var parts []string
		for _, e := range n.Content {
			e = deref(e)
			if e.Kind != yaml.ScalarNode || isNull(e) {
				return "", fmt.Errorf("line %d: want each list item to be a single value", e.Line)
			}
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case yaml.MappingNode:
		return "", errors.New("want a single value, not a mapping")
	default:
		return "", errors.New("want a single value")
	}
}

// scalar returns a scalar's text; null is "". Values with a tag other than YAML's plain
// scalar types (!!binary, custom tags) are refused rather than guessed at.
func scalar(n *yaml.Node) (string, error) {
	switch n.ShortTag() {
	case "!!null":
		return "", nil
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, nil
	default:
		return "", fmt.Errorf("the tag %s is not supported; write the value as plain text", n.ShortTag())
	}
}

// clip shortens a key written in the file for a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// deref follows aliases (*name) to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// suggest returns `; did you mean "x"?` for the candidate nearest to s, if one is near.
func suggest(s string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "-") }
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(norm(s), norm(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
