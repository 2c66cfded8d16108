package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func TestMessageAppend(t *testing.T) {
	t.Parallel()
	m := &Message{
		Header:   Header{Type: TypeRequest, Op: doip.OpRetrieve, IDLen: 99, PayloadLen: 99},
		ObjectID: "Q123",
		Blocks:   []Block{&MetadataBlock{JSON: []byte(`{"operation":"retrieve"}`)}},
	}
	got, err := m.Append([]byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	// mardi-request-retrieve-metadata.bin
	const want = "\x02\x01\x02\x00\x00\x04\x00\x00\x00\x1d" + "Q123" + "\x01\x00\x00\x00\x18" + `{"operation":"retrieve"}`
	if string(got) != "prefix"+want {
		t.Errorf("Append = %q, want %q", got, "prefix"+want)
	}
	if m.Header.Version != Version || m.Header.IDLen != 4 || m.Header.PayloadLen != 0x1d {
		t.Errorf("header after Append = %+v, want version, IDLen and PayloadLen filled in", m.Header)
	}
}

func TestMessageAppendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		m         *Message
		wantErr   error
		wantField string
	}{
		{name: "object id of 64 KiB", m: &Message{ObjectID: strings.Repeat("Q", 1<<16)}, wantErr: ErrTooLarge},
		{name: "version 1", m: &Message{Header: Header{Version: 1}}, wantField: "version"},
		{name: "metadata not JSON", m: &Message{Blocks: []Block{&MetadataBlock{JSON: []byte(`{`)}}}, wantField: "metadata block"},
		{name: "metadata nil", m: &Message{Blocks: []Block{&MetadataBlock{}}}, wantField: "metadata block"},
		{name: "workflow an array", m: &Message{Blocks: []Block{&WorkflowBlock{JSON: []byte(`[]`)}}}, wantField: "workflow block"},
		{name: "component id of 64 KiB", m: &Message{Blocks: []Block{&ComponentBlock{ID: strings.Repeat("c", 1<<16)}}}, wantErr: ErrTooLarge},
		{name: "media type of 64 KiB", m: &Message{Blocks: []Block{&ComponentBlock{MediaType: strings.Repeat("m", 1<<16)}}}, wantErr: ErrTooLarge},
		{name: "nil block", m: &Message{Blocks: []Block{nil}}},
		{name: "nil *MetadataBlock", m: &Message{Blocks: []Block{(*MetadataBlock)(nil)}}},
		{name: "nil *ComponentBlock", m: &Message{Blocks: []Block{(*ComponentBlock)(nil)}}},
		{name: "nil *WorkflowBlock", m: &Message{Blocks: []Block{(*WorkflowBlock)(nil)}}},
	}
	for _, tt := range tests {
		before := tt.m.Header
		got, err := tt.m.Append([]byte("keep"))
		var pe *ProtocolError
		switch {
		case err == nil:
			t.Errorf("%s: no error", tt.name)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		case tt.wantField != "" && (!errors.As(err, &pe) || pe.Field != tt.wantField):
			t.Errorf("%s: err = %v, want a *ProtocolError on %q", tt.name, err, tt.wantField)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst = %q, want it unchanged", tt.name, got)
		}
		if tt.m.Header != before {
			t.Errorf("%s: header changed to %+v on error", tt.name, tt.m.Header)
		}
	}
}

func TestBlockDecodeKeepsBytes(t *testing.T) {
	t.Parallel()
	body := []byte("\x00\x08main-pdf\x00\x0fapplication/pdf\x00\x00\x00\x03abc")
	var c ComponentBlock
	if err := c.Decode(body); err != nil {
		t.Fatal(err)
	}
	if c.ID != "main-pdf" || c.MediaType != "application/pdf" || string(c.Content) != "abc" {
		t.Fatalf("decoded %+v", c)
	}
	if &c.Content[0] != &body[len(body)-3] {
		t.Error("Content is a copy, want a sub-slice of the body")
	}
	got, err := c.Append(nil)
	if err != nil || !bytes.Equal(got, append([]byte("\x02\x00\x00\x00\x22"), body...)) {
		t.Errorf("Append = %q, %v", got, err)
	}
	if ComponentBlockLen(c.ID, c.MediaType, 3) != uint64(len(got)) {
		t.Errorf("ComponentBlockLen = %d, want %d", ComponentBlockLen(c.ID, c.MediaType, 3), len(got))
	}
	if JSONBlockLen(2) != 7 || JSONBlockLen(-1) != 5 {
		t.Errorf("JSONBlockLen(2) = %d, JSONBlockLen(-1) = %d", JSONBlockLen(2), JSONBlockLen(-1))
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	m := &Message{Blocks: []Block{
		&ComponentBlock{ID: "a"},
		(*MetadataBlock)(nil),
		&WorkflowBlock{JSON: []byte(`{"w":1}`)},
		&MetadataBlock{JSON: []byte(`{"first":1}`)},
		&MetadataBlock{JSON: []byte(`{"second":2}`)},
	}}
	if got := string(m.Metadata()); got != `{"first":1}` {
		t.Errorf("Metadata = %s, want the first metadata block", got)
	}
	if got := (&Message{}).Metadata(); got != nil {
		t.Errorf("Metadata of no blocks = %s, want nil", got)
	}
}
