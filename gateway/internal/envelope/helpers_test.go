package envelope

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// vector is one golden file of testdata/vectors.
type vector struct {
	name string // file name without .bin
	data []byte
}

// loadVectors reads every testdata/vectors/*.bin, a copy of the envelope contract's mardi-*.bin vectors.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no vectors in testdata/vectors")
	}
	var vs []vector
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, vector{name: filepath.Base(p[:len(p)-len(".bin")]), data: data})
	}
	return vs
}

// readStreaming reads one message through the streaming API (ReadHeader, NextBlock,
// ReadJSONBlock, ReadComponentHeader, Content) and returns it as a Message.
func readStreaming(fr *Framer) (*Message, error) {
	h, id, err := fr.ReadHeader()
	if err != nil {
		return nil, err
	}
	m := &Message{Header: h, ObjectID: id}
	for {
		t, n, err := fr.NextBlock()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		switch t {
		case BlockMetadata, BlockWorkflow:
			js, err := fr.ReadJSONBlock(n)
			if err != nil {
				return nil, err
			}
			if t == BlockMetadata {
				m.Blocks = append(m.Blocks, &MetadataBlock{JSON: js})
			} else {
				m.Blocks = append(m.Blocks, &WorkflowBlock{JSON: js})
			}
		case BlockComponent:
			cid, mt, cl, err := fr.ReadComponentHeader(n)
			if err != nil {
				return nil, err
			}
			content, err := io.ReadAll(fr.Content())
			if err != nil {
				return nil, err
			}
			if uint64(len(content)) != uint64(cl) {
				return nil, errors.New("content length mismatch")
			}
			m.Blocks = append(m.Blocks, &ComponentBlock{ID: cid, MediaType: mt, Content: content})
		default:
			return nil, errors.New("NextBlock returned an unknown block type")
		}
	}
}

// writeStreaming writes m through the streaming API, computing PayloadLen with the *Len
// helpers and copying each component's content through Writer in small pieces.
func writeStreaming(fr *Framer, m *Message) error {
	var p uint64
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *MetadataBlock:
			p += JSONBlockLen(len(b.JSON))
		case *WorkflowBlock:
			p += JSONBlockLen(len(b.JSON))
		case *ComponentBlock:
			p += ComponentBlockLen(b.ID, b.MediaType, uint64(len(b.Content)))
		}
	}
	h := m.Header
	h.PayloadLen = uint32(p)
	if err := fr.WriteHeader(h, m.ObjectID); err != nil {
		return err
	}
	for _, b := range m.Blocks {
		var err error
		switch b := b.(type) {
		case *MetadataBlock:
			err = fr.WriteJSONBlock(BlockMetadata, b.JSON)
		case *WorkflowBlock:
			err = fr.WriteJSONBlock(BlockWorkflow, b.JSON)
		case *ComponentBlock:
			if err = fr.WriteComponentHeader(b.ID, b.MediaType, uint32(len(b.Content))); err == nil {
				// A small buffer, so that the content goes through several Writes.
				_, err = io.CopyBuffer(struct{ io.Writer }{fr.Writer()}, struct{ io.Reader }{bytes.NewReader(b.Content)}, make([]byte, 7))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mustAppend encodes m or fails the test.
func mustAppend(tb testing.TB, m *Message) []byte {
	tb.Helper()
	b, err := m.Append(nil)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return b
}

// documented reports whether err is one of the kinds ReadMessage documents.
func documented(err error) bool {
	var pe *ProtocolError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, ErrTooLarge) || errors.As(err, &pe)
}

// failReader fails the test if it is read: it stands behind bytes that must be enough.
type failReader struct{ tb testing.TB }

func (r failReader) Read([]byte) (int, error) {
	r.tb.Error("read past the header")
	return 0, errors.New("read past the header")
}
