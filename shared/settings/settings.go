// Package settings is the one settings engine of every process: each setting has a default,
// a key in the process's section of config.yaml (read by [configfile]), an environment
// variable, and usually a flag; each later source overrides the earlier (default, file,
// environment, flag), and an environment variable set to "" counts as unset.
//
// A process describes its settings once, in a [Table], and checks and stores each value
// itself ([Values.Apply], [Values.Bad]). Every problem is reported in one error, each naming
// the setting by its flag and variable, the value as it was given (masked: see [Redact]) and
// where it came from: a flag, a variable, or the file's name, line and key. Problems with the
// file itself (unknown keys, with "did you mean", and shapes) come in the same error.
//
// Secret settings have no flag (a flag would show in the process list) and their values are
// never shown: [Mask] stands in for them, in messages, in [Secret], and in logged
// configurations. -h and --help give a [*HelpError] carrying the usage; [Exit] prints it on
// stdout and ends with status 0, as every process does.
//
// The package never logs, and only [Main], the whole of a service's main, exits the process.
package settings

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/shared/configfile"
)

// Setting is one entry of a [Table].
type Setting struct {
	// Flag is the flag name without dashes; "" for a setting read from the file and the
	// environment only.
	Flag string
	// Env is the environment variable.
	Env string
	// Default is the value, as text, when no source gives one.
	Default string
	// Usage says what the setting means, for the usage text.
	Usage string
	// List marks a comma-separated list: the file may give a YAML list.
	List bool
	// Bool marks a flag that may stand alone (--seed-samples for --seed-samples=true).
	Bool bool
	// Secret marks a credential: it must have no flag, and its value is never shown.
	Secret bool
}

// Key is the setting's key in config.yaml: [configfile.KeyName] of its flag and variable.
func (s Setting) Key() string { return configfile.KeyName(s.Flag, s.Env) }

// Name is how messages name the setting: "--flag / ENV", or whichever of the two it has.
func (s Setting) Name() string {
	switch {
	case s.Flag == "":
		return s.Env
	case s.Env == "":
		return "--" + s.Flag
	default:
		return "--" + s.Flag + " / " + s.Env
	}
}

// Table is a process's settings.
type Table struct {
	// Program is the binary's name, for the usage text and the flag set.
	Program string
	// Section is the process's section in config.yaml.
	Section string
	// Settings lists every setting; it is the one place the defaults live.
	Settings []Setting
}

// Keys are the keys the table's section of config.yaml accepts.
func (t *Table) Keys() []configfile.Key {
	keys := make([]configfile.Key, len(t.Settings))
	for i, s := range t.Settings {
		keys[i] = configfile.Key{Name: s.Key(), Env: s.Env, List: s.List}
	}
	return keys
}

// Setting returns the setting whose key is key; it panics on a key the table lacks, a
// mistake in the caller's code.
func (t *Table) Setting(key string) Setting {
	for _, s := range t.Settings {
		if s.Key() == key {
			return s
		}
	}
	panic("settings: " + t.Program + " has no setting " + key)
}

// ErrHelp is what a [*HelpError] matches with errors.Is: flag.ErrHelp.
var ErrHelp = flag.ErrHelp

// HelpError is the answer to -h or --help: not a failure, the usage was asked for.
type HelpError struct {
	// Usage is the usage text, [Table.Usage].
	Usage string
}

func (e *HelpError) Error() string { return ErrHelp.Error() + "\n" + e.Usage }

// Is makes errors.Is(err, [ErrHelp]) true.
func (e *HelpError) Is(target error) bool { return target == ErrHelp }

// flagValue is a flag.Value that only keeps its text; the process checks it later, so that
// a flag and a variable go through the same checks.
type flagValue struct {
	s      string
	isBool bool
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }

// Values are the settings' values chosen by [Table.Load], each with where it came from, and
// the problems found so far.
type Values struct {
	table  *Table
	text   map[string]string // key → value
	source map[string]string // key → "default", "flag --x", "environment X", "config.yaml:3 (section.key)"
	errs   []error
}

// Load reads args (the command line without the program name), the configuration file (see
// [configfile.Find]: --config, DOIP_CONFIG, CONFIG or ./config.yaml) and the environment
// through getenv, and picks each setting's value. A bad command line is an error, and so is
// -h (a [*HelpError]); otherwise the values are returned, and problems with the file are kept
// in them for [Values.Err], beside the problems the caller finds in the values.
func (t *Table) Load(args []string, getenv func(string) string) (*Values, error) {
	fs := flag.NewFlagSet(t.Program, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag's own messages are replaced by ours
	configPath := fs.String("config", "", configfile.FlagUsage)
	flags := make(map[string]*flagValue)
	for _, s := range t.Settings {
		if s.Flag != "" && !s.Secret {
			flags[s.Flag] = &flagValue{isBool: s.Bool}
			fs.Var(flags[s.Flag], s.Flag, s.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &HelpError{Usage: t.Usage()}
		}
		return nil, fmt.Errorf("config: %w (run with -h for the flags)", err)
	}
	switch fs.NArg() {
	case 0:
	case 1:
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	default:
		return nil, fmt.Errorf("config: unexpected arguments %q", fs.Args())
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	v := &Values{table: t, text: map[string]string{}, source: map[string]string{}}
	file, err := configfile.Find(*configPath, given["config"], getenv).Load(t.Section, t.Keys())
	if err != nil {
		v.errs = append(v.errs, err)
	}
	for _, s := range t.Settings {
		text, src := s.Default, "default"
		if fv, ok := file[s.Key()]; ok {
			text, src = fv.Text, fv.Source
		}
		if s.Env != "" {
			if e := getenv(s.Env); e != "" {
				text, src = e, "environment "+s.Env
			}
		}
		if f, ok := flags[s.Flag]; ok && given[s.Flag] {
			text, src = f.s, "flag --"+s.Flag
		}
		v.text[s.Key()], v.source[s.Key()] = text, src
	}
	return v, nil
}

// Text returns the value of the setting with key key, as given.
func (v *Values) Text(key string) string {
	v.table.Setting(key)
	return v.text[key]
}

// Source says where the value of the setting with key key came from: "default",
// "flag --port", "environment DOIP_PORT", or `config.yaml:3 (gateway.port)`.
func (v *Values) Source(key string) string {
	v.table.Setting(key)
	return v.source[key]
}

// Apply calls check with the value of the setting with key key, and keeps the error it
// returns, naming the setting, its value and its source.
func (v *Values) Apply(key string, check func(text string) error) {
	if err := check(v.Text(key)); err != nil {
		v.errs = append(v.errs, v.problem(key, err))
	}
}

// Bad keeps a problem with the value of the setting with key key.
func (v *Values) Bad(key, format string, args ...any) {
	v.errs = append(v.errs, v.problem(key, fmt.Errorf(format, args...)))
}

// Errorf keeps a problem that is not about one value, such as two settings that do not go
// together.
func (v *Values) Errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("config: "+format, args...))
}

// problem is err about the setting with key key: `config: --port / DOIP_PORT = "x" (from
// flag --port): want …`.
func (v *Values) problem(key string, err error) error {
	s := v.table.Setting(key)
	shown := Redact(v.text[key])
	if s.Secret {
		shown = Secret(v.text[key]).String()
	}
	return fmt.Errorf("config: %s = %s (from %s): %w", s.Name(), strconv.Quote(shown), v.source[key], err)
}

// Err returns every problem found, joined, or nil.
func (v *Values) Err() error { return errors.Join(v.errs...) }

// Usage describes every setting: flag, variable, key in the file, default and meaning.
func (t *Table) Usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [--config FILE] [flags]\n\n"+
		"Each setting is read from the %s section of the configuration file (by its key, or\n"+
		"its environment variable's name), then from its environment variable, then from its\n"+
		"flag; each later source overrides the earlier. Settings without a flag are read from\n"+
		"the file and the environment only.\n\n"+
		"  --config FILE\n    \t%s\n", t.Program, t.Section, configfile.FlagUsage)
	for _, s := range t.Settings {
		fmt.Fprintf(&b, "  %s (key %s)\n    \t%s", s.Name(), s.Key(), s.Usage)
		if s.Default != "" {
			fmt.Fprintf(&b, " (default %q)", s.Default)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Exit is the status a process ends with after its run returned err, having written what
// the user should see: nothing for nil; the usage on stdout for a [*HelpError] (status 0);
// otherwise "program: err" on stderr (status 1).
func Exit(program string, err error, stdout, stderr io.Writer) int {
	var help *HelpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.Usage)
		return 0
	default:
		fmt.Fprintf(stderr, "%s: %v\n", program, err)
		return 1
	}
}
