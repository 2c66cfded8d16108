package settings

import "errors"

// Field is a setting of a process together with how its value is checked and stored into
// C, the process's configuration.
type Field[C any] struct {
	Setting
	// Set checks text, the value as given, and stores it into c. Its error says what is
	// wanted; [Values.Apply] adds the setting, the value and its source.
	Set func(c *C, text string) error
}

// Fields are a process's settings, each with its [Field.Set]: the table and the checks of a
// process whose configuration is one struct.
type Fields[C any] struct {
	// Table is the settings without their checks, for the usage text and the file's keys.
	Table  *Table
	fields []Field[C]
}

// NewFields returns the fields of the program whose section of config.yaml is section.
func NewFields[C any](program, section string, fields []Field[C]) *Fields[C] {
	t := &Table{Program: program, Section: section}
	for _, f := range fields {
		t.Settings = append(t.Settings, f.Setting)
	}
	return &Fields[C]{Table: t, fields: fields}
}

// Load reads the values as [Table.Load] does and stores each into a C with its field's Set,
// in the order of the fields; then check, when not nil, looks at what concerns several
// settings and keeps its problems in the values ([Values.Bad], [Values.Errorf]). Every
// problem is reported in one error; for -h or --help it is a [*HelpError].
func (f *Fields[C]) Load(args []string, getenv func(string) string, check func(c *C, vals *Values)) (C, error) {
	var c, zero C
	vals, err := f.Table.Load(args, getenv)
	if err != nil {
		return zero, err
	}
	for _, fd := range f.fields {
		vals.Apply(fd.Key(), func(text string) error { return fd.Set(&c, text) })
	}
	if check != nil {
		check(&c, vals)
	}
	if err := vals.Err(); err != nil {
		return zero, err
	}
	return c, nil
}

// Parse returns a [Field.Set] that stores parse(text) in the field of C that field points to,
// and fails with want, what the setting wants, when parse fails.
func Parse[C, T any](parse func(text string) (T, error), want string, field func(c *C) *T) func(c *C, text string) error {
	return func(c *C, text string) error {
		v, err := parse(text)
		if err != nil {
			return errors.New(want)
		}
		*field(c) = v
		return nil
	}
}

// Text returns a [Field.Set] that stores the text as given in the field of C that field
// points to.
func Text[C any](field func(c *C) *string) func(c *C, text string) error {
	return func(c *C, text string) error {
		*field(c) = text
		return nil
	}
}
