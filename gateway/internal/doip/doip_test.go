package doip

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestOpNames(t *testing.T) {
	t.Parallel()
	for op := OpHello; op <= OpSearch; op++ {
		got, ok := ParseOpName(op.String())
		if !ok || got != op {
			t.Errorf("ParseOpName(%q) = %v, %v; want %v", op.String(), got, ok, op)
		}
	}
	for in, want := range map[string]Op{"LIST_OPS": OpListOps, " Hello ": OpHello, "listOperations": OpListOps} {
		if got, ok := ParseOpName(in); !ok || got != want {
			t.Errorf("ParseOpName(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := ParseOpName("delete_everything"); ok {
		t.Error("ParseOpName accepted an unknown name")
	}
	if s := Op(0xAB).String(); s != "op_0xab" {
		t.Errorf("Op(0xAB).String() = %q", s)
	}
	if Op(0x0A).Known() || !OpPurge.Known() {
		t.Error("Known is wrong")
	}
}

func TestAsError(t *testing.T) {
	t.Parallel()
	e := Errorf(KindNotFound, "no object %s", "Q9")
	if got := AsError(fmt.Errorf("wrapped: %w", e)); got != e {
		t.Errorf("AsError lost the *Error: %v", got)
	}
	got := AsError(errors.New("dial tcp 10.1.2.3:5432: secret internals"))
	if got.Kind != KindInternal || got.Message != "internal error" {
		t.Errorf("AsError(plain) = %+v, want a generic internal error", got)
	}
}

// A framing error carries both the answer and the codec's error, and reads as the latter.
func TestFramingError(t *testing.T) {
	t.Parallel()
	cause := fmt.Errorf("segment: segment 17 bytes exceeds limit 16: %w", io.ErrShortBuffer)
	err := error(NewFramingError(KindTooLarge, cause))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindTooLarge || e.Message != cause.Error() {
		t.Errorf("answer = %+v, want TooLarge with the cause's text", e)
	}
	if !errors.Is(err, io.ErrShortBuffer) || err.Error() != cause.Error() {
		t.Errorf("%v does not carry its cause", err)
	}
	if got := AsError(err); got != e {
		t.Errorf("AsError = %+v, want the answer", got)
	}
}
