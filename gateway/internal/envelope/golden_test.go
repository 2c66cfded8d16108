package envelope

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// goldenWant is what a golden vector must decode to.
type goldenWant struct {
	typ      MsgType
	op       doip.Op
	objectID string
	blocks   []BlockType
	metadata string // the first metadata block, exactly; "" to skip
	// component, when set, is the first component block.
	component *ComponentBlock
	workflow  string // the first workflow block, exactly; "" to skip
}

var goldenWants = map[string]goldenWant{
	"mardi-request-hello": {
		typ: TypeRequest, op: doip.OpHello, blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"hello"}`,
	},
	"mardi-request-list-ops": {
		typ: TypeRequest, op: doip.OpListOps, blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"list_operations"}`,
	},
	"mardi-request-retrieve-metadata": {
		typ: TypeRequest, op: doip.OpRetrieve, objectID: "Q123", blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"retrieve"}`,
	},
	"mardi-request-retrieve-component": {
		typ: TypeRequest, op: doip.OpRetrieve, objectID: "Q123", blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"retrieve","element":"doip:bitstream/Q123/main-pdf"}`,
	},
	"mardi-request-invoke": {
		typ: TypeRequest, op: doip.OpInvoke, objectID: "Q123", blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"invoke","workflow":"equation_extraction","params":{"pages":[1,2]}}`,
	},
	"mardi-response-hello": {
		typ: TypeResponse, op: doip.OpHello, blocks: []BlockType{BlockMetadata},
		metadata: `{"operation":"hello","status":"ok","server":"mardi_doip_server","version":2,"availableOperations":{"hello":1,"retrieve":2,"invoke":5}}`,
	},
	"mardi-response-error": {
		typ: TypeError, op: doip.OpRetrieve, objectID: "Q999", blocks: []BlockType{BlockMetadata},
		metadata: `{"error":"KeyError","message":"Component id not found: x"}`,
	},
	"mardi-response-retrieve-component": {
		typ: TypeResponse, op: doip.OpRetrieve, objectID: "Q123", blocks: []BlockType{BlockComponent},
		component: &ComponentBlock{ID: "doip:bitstream/Q123/main-pdf", MediaType: "application/pdf", Content: []byte("%PDF-1.4 tiny")},
	},
	"mardi-response-invoke": {
		typ: TypeResponse, op: doip.OpInvoke, objectID: "Q123",
		blocks:    []BlockType{BlockMetadata, BlockComponent, BlockWorkflow},
		metadata:  `{"operation":"invoke","workflow":"equation_extraction","result":{"workflow":"equation_extraction"}}`,
		component: &ComponentBlock{ID: "doip:bitstream/Q123/equations-json", MediaType: "application/json", Content: []byte(`[{"page":1,"latex":"E=mc^2"}]`)},
		workflow:  `{"workflow":"equation_extraction","sourceObject":"Q123"}`,
	},
}

// readers are the ways the golden tests feed bytes to a Framer: all at once, and split.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"OneByteReader", iotest.OneByteReader},
	{"HalfReader", iotest.HalfReader},
	{"DataErrReader", iotest.DataErrReader},
}

// checkGolden compares a decoded message with its expectations.
func checkGolden(t *testing.T, m *Message, want goldenWant, data []byte) {
	t.Helper()
	h := m.Header
	if h.Version != Version || h.Type != want.typ || h.Op != want.op || h.Flags != 0 {
		t.Errorf("header = %+v, want version 2, type %v, op %v, flags 0", h, want.typ, want.op)
	}
	if m.ObjectID != want.objectID || int(h.IDLen) != len(want.objectID) {
		t.Errorf("object id = %q (IDLen %d), want %q", m.ObjectID, h.IDLen, want.objectID)
	}
	if int(h.PayloadLen) != len(data)-HeaderLen-len(want.objectID) {
		t.Errorf("PayloadLen = %d, want %d", h.PayloadLen, len(data)-HeaderLen-len(want.objectID))
	}
	var types []BlockType
	var comp *ComponentBlock
	var wf string
	for _, b := range m.Blocks {
		types = append(types, b.Type())
		if c, ok := b.(*ComponentBlock); ok && comp == nil {
			comp = c
		}
		if w, ok := b.(*WorkflowBlock); ok && wf == "" {
			wf = string(w.JSON)
		}
	}
	if !slices.Equal(types, want.blocks) {
		t.Errorf("block types = %v, want %v", types, want.blocks)
	}
	if want.metadata != "" && string(m.Metadata()) != want.metadata {
		t.Errorf("metadata = %s, want %s", m.Metadata(), want.metadata)
	}
	if want.component != nil {
		switch {
		case comp == nil:
			t.Errorf("no component block")
		case comp.ID != want.component.ID || comp.MediaType != want.component.MediaType || !bytes.Equal(comp.Content, want.component.Content):
			t.Errorf("component = {%q %q %q}, want {%q %q %q}", comp.ID, comp.MediaType, comp.Content,
				want.component.ID, want.component.MediaType, want.component.Content)
		}
	}
	if want.workflow != "" && wf != want.workflow {
		t.Errorf("workflow = %s, want %s", wf, want.workflow)
	}
}

// TestGolden decodes every spec vector with ReadMessage and with the streaming reader,
// through readers that split the bytes, and checks that both encoders give back the same
// bytes.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		want, ok := goldenWants[v.name]
		if !ok {
			t.Errorf("%s: no expectations in goldenWants; add them", v.name)
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			for _, rd := range readers {
				for _, mode := range []string{"ReadMessage", "streaming"} {
					fr := NewFramer(nil, rd.wrap(bytes.NewReader(v.data)))
					var m *Message
					var err error
					if mode == "ReadMessage" {
						m, err = fr.ReadMessage()
					} else {
						m, err = readStreaming(fr)
					}
					if err != nil {
						t.Fatalf("%s/%s: %v", rd.name, mode, err)
					}
					checkGolden(t, m, want, v.data)
					if got := mustAppend(t, m); !bytes.Equal(got, v.data) {
						t.Errorf("%s/%s: Append =\n%q\nwant\n%q", rd.name, mode, got, v.data)
					}
					if _, err := fr.ReadMessage(); err != io.EOF {
						t.Errorf("%s/%s: ReadMessage after the message = %v, want io.EOF", rd.name, mode, err)
					}
				}
			}

			// The encoders: WriteMessage, and the streaming writer with PayloadLen from the
			// *Len helpers.
			m, err := NewFramer(nil, bytes.NewReader(v.data)).ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var whole, streamed bytes.Buffer
			if err := NewFramer(&whole, nil).WriteMessage(m); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(whole.Bytes(), v.data) {
				t.Errorf("WriteMessage =\n%q\nwant\n%q", whole.Bytes(), v.data)
			}
			if err := writeStreaming(NewFramer(&streamed, nil), m); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(streamed.Bytes(), v.data) {
				t.Errorf("streaming write =\n%q\nwant\n%q", streamed.Bytes(), v.data)
			}
		})
	}
}

// TestGoldenOneConnection reads every vector, back to back on one stream as the reference
// server reads a connection, alternating ReadMessage and the streaming reader.
func TestGoldenOneConnection(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	var all []byte
	for _, v := range vs {
		all = append(all, v.data...)
	}
	for _, rd := range readers {
		fr := NewFramer(nil, rd.wrap(bytes.NewReader(all)))
		for i, v := range vs {
			var m *Message
			var err error
			if i%2 == 0 {
				m, err = fr.ReadMessage()
			} else {
				m, err = readStreaming(fr)
			}
			if err != nil {
				t.Fatalf("%s: message %d (%s): %v", rd.name, i, v.name, err)
			}
			checkGolden(t, m, goldenWants[v.name], v.data)
		}
		if _, _, err := fr.ReadHeader(); err != io.EOF {
			t.Errorf("%s: ReadHeader at the end = %v, want io.EOF", rd.name, err)
		}
	}
}
