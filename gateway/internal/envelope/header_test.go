package envelope

import (
	"errors"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func TestHeaderBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		want      Header
		wantField string
	}{
		{
			name: "retrieve request",
			in:   "\x02\x01\x02\x00\x00\x04\x00\x00\x00\x1d",
			want: Header{Version: 2, Type: TypeRequest, Op: doip.OpRetrieve, IDLen: 4, PayloadLen: 0x1d},
		},
		{
			name: "all bytes set",
			in:   "\x02\x7f\xff\xff\xff\xfe\xff\xff\xff\xfd",
			want: Header{Version: 2, Type: TypeError, Op: 0xff, Flags: 0xff, IDLen: 0xfffe, PayloadLen: 0xfffffffd},
		},
		{
			name:      "version 3, still decoded",
			in:        "\x03\x01\x02\x00\x00\x04\x00\x00\x00\x1d",
			want:      Header{Version: 3, Type: TypeRequest, Op: doip.OpRetrieve, IDLen: 4, PayloadLen: 0x1d},
			wantField: "version",
		},
		{name: "9 bytes", in: "\x02\x01\x02\x00\x00\x04\x00\x00\x00", wantField: "header"},
		{name: "11 bytes", in: "\x02\x01\x02\x00\x00\x04\x00\x00\x00\x1d\x00", wantField: "header"},
	}
	for _, tt := range tests {
		var h Header
		err := h.UnmarshalBinary([]byte(tt.in))
		var pe *ProtocolError
		if tt.wantField != "" {
			if !errors.As(err, &pe) || pe.Field != tt.wantField {
				t.Errorf("%s: err = %v, want a *ProtocolError on %q", tt.name, err, tt.wantField)
			}
		} else if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if h != tt.want {
			t.Errorf("%s: header = %+v, want %+v", tt.name, h, tt.want)
		}
		if err != nil {
			continue
		}
		got, err := h.AppendBinary([]byte("x"))
		if err != nil || string(got) != "x"+tt.in {
			t.Errorf("%s: AppendBinary = %q, %v; want %q", tt.name, got, err, "x"+tt.in)
		}
	}

	for _, v := range []uint8{0, 1, 3} {
		dst := []byte("keep")
		got, err := Header{Version: v}.AppendBinary(dst)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Field != "version" || string(got) != "keep" {
			t.Errorf("AppendBinary with version %d = %q, %v; want dst unchanged and a *ProtocolError", v, got, err)
		}
	}
}

func TestTypeStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{TypeRequest.String(), "request"},
		{TypeResponse.String(), "response"},
		{TypeError.String(), "error"},
		{MsgType(0).String(), "type_0x00"},
		{MsgType(0xab).String(), "type_0xab"},
		{BlockMetadata.String(), "metadata"},
		{BlockComponent.String(), "component"},
		{BlockWorkflow.String(), "workflow"},
		{BlockType(4).String(), "block_0x04"},
		{(&ProtocolError{Field: "block type", Reason: "0x04"}).Error(), "envelope: bad block type: 0x04"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !TypeError.Known() || MsgType(3).Known() || !BlockWorkflow.Known() || BlockType(0).Known() {
		t.Error("Known is wrong")
	}
}
