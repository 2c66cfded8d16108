package workflow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

func TestObjectParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring; "" for success
	}{
		{name: "empty", in: "", want: "{}"},
		{name: "spaces", in: " \n\t", want: "{}"},
		{name: "empty object", in: "{}", want: "{}"},
		{name: "object", in: `{"a":1,"b":[true,null]}`, want: `{"a":1,"b":[true,null]}`},
		{name: "object with space", in: ` {"a": 1} `, want: `{"a": 1}`},
		{name: "array", in: `[1]`, wantErr: "got an array"},
		{name: "string", in: `"x"`, wantErr: "got a string"},
		{name: "number", in: `-1`, wantErr: "got a number"},
		{name: "boolean", in: `true`, wantErr: "got a boolean"},
		{name: "null", in: `null`, wantErr: "got null"},
		{name: "invalid", in: `{"a":`, wantErr: "not valid JSON"},
		{name: "trailing data", in: `{} {}`, wantErr: "not valid JSON"},
		{name: "not utf-8", in: "{\"a\":\"\xff\"}", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := workflow.ObjectParams([]byte(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, workflow.ErrBadParams) {
					t.Fatalf("ObjectParams(%q) error = %v, want one wrapping ErrBadParams", tt.in, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ObjectParams(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ObjectParams(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("ObjectParams(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
