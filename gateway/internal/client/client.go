// Package client is a DOIP client of the binary envelope (port 3567), used by doipctl and by
// the end-to-end tests. One [Conn] carries any number of requests in turn. Component bytes
// are streamed to an io.Writer as they arrive: memory does not grow with object size.
package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// ErrNotEnvelope is returned, wrapped, when an answer does not start with the envelope
// version byte 0x02, or ends before a whole header (a TLS alert is 7 bytes): the address
// speaks another protocol (HTTP, TLS, standard DOIP).
var ErrNotEnvelope = errors.New("client: the answer is not a binary envelope")

// ErrNoAnswer is returned, wrapped, when the server closes the connection before the first
// byte of an answer, as a gateway does to a plaintext client on a TLS-only port.
var ErrNoAnswer = errors.New("client: the server closed the connection without an answer")

// Conn is one connection to a DOIP gateway's binary port. It is not safe for concurrent use.
type Conn struct {
	nc net.Conn
	bw *bufio.Writer
	fr *envelope.Framer
	// Timeout bounds each request from its first byte written to its last byte read, and is
	// refreshed while a component streams. Zero means 60 s.
	Timeout time.Duration
}

// Dial connects to addr ("host:port"), with TLS when tlsConfig is not nil.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: connect to %s: %w", addr, err)
	}
	if tlsConfig != nil {
		tc := tls.Client(nc, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("client: TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	return NewConn(nc), nil
}

// NewConn wraps an established connection.
func NewConn(nc net.Conn) *Conn {
	bw := bufio.NewWriterSize(nc, 32<<10)
	fr := envelope.NewFramer(bw, bufio.NewReaderSize(nc, 256<<10))
	fr.MaxJSON = 64 << 20
	return &Conn{nc: nc, bw: bw, fr: fr}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

func (c *Conn) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 60 * time.Second
	}
	return c.Timeout
}

// Request is what a call sends: an operation, an object id and a metadata object.
type Request struct {
	Op       doip.Op
	ObjectID string
	Metadata map[string]any
}

// Response is a decoded answer. Components whose bytes went to a writer have nil Content.
type Response struct {
	Header     envelope.Header
	ObjectID   string
	Metadata   json.RawMessage
	Workflow   json.RawMessage
	Components []Component
}

// Component is one component block of a response.
type Component struct {
	ID, MediaType string
	Size          int64
	// Content holds the bytes when no writer was given for them.
	Content []byte
}

// Sink says where component bytes go: Open is called with each component's id, media type
// and size, and returns the writer for its bytes (nil keeps them in memory). Progress, if
// set, is called as bytes arrive.
type Sink struct {
	Open     func(id, mediaType string, size int64) (io.Writer, error)
	Progress func(done, total int64)
}

// Do sends req and reads the whole answer. An error envelope (type 0x7F) is returned as a
// *doip.Error.
func (c *Conn) Do(ctx context.Context, req Request, sink *Sink) (*Response, error) {
	meta := req.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	if _, ok := meta["operation"]; !ok {
		meta["operation"] = req.Op.String()
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("client: encoding metadata: %w", err)
	}
	msg := &envelope.Message{
		Header:   envelope.Header{Version: envelope.Version, Type: envelope.TypeRequest, Op: req.Op},
		ObjectID: req.ObjectID,
		Blocks:   []envelope.Block{&envelope.MetadataBlock{JSON: js}},
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	} else {
		_ = c.nc.SetDeadline(time.Now().Add(c.timeout()))
	}
	defer c.nc.SetDeadline(time.Time{})
	if err := c.fr.WriteMessage(msg); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", req.Op, err)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", req.Op, err)
	}
	return c.readResponse(sink)
}

// WriteRaw sends bytes as they are (for tests of malformed input) and flushes.
func (c *Conn) WriteRaw(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// ReadResponse reads one answer (after WriteRaw).
func (c *Conn) ReadResponse() (*Response, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout()))
	defer c.nc.SetReadDeadline(time.Time{})
	return c.readResponse(nil)
}

func (c *Conn) readResponse(sink *Sink) (*Response, error) {
	h, id, err := c.fr.ReadHeader()
	if err != nil {
		return nil, headerError(err)
	}
	resp := &Response{Header: h, ObjectID: id}
	for {
		t, n, err := c.fr.NextBlock()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return resp, fmt.Errorf("client: reading answer: %w", err)
		}
		switch t {
		case envelope.BlockMetadata, envelope.BlockWorkflow:
			js, err := c.fr.ReadJSONBlock(n)
			if err != nil {
				return resp, fmt.Errorf("client: reading %s block: %w", t, err)
			}
			if t == envelope.BlockMetadata && resp.Metadata == nil {
				resp.Metadata = js
			} else if t == envelope.BlockWorkflow {
				resp.Workflow = js
			}
		case envelope.BlockComponent:
			comp, err := c.readComponent(n, sink)
			if err != nil {
				return resp, err
			}
			resp.Components = append(resp.Components, comp)
		default:
			return resp, fmt.Errorf("client: unknown block type %s", t)
		}
	}
	if h.Type == envelope.TypeError {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(resp.Metadata, &e)
		return resp, &doip.Error{Kind: doip.ErrorKind(e.Error), Message: e.Message}
	}
	return resp, nil
}

// headerError wraps an error reading an answer's header with [ErrNotEnvelope] or
// [ErrNoAnswer] when it is one of those.
func headerError(err error) error {
	var pe *envelope.ProtocolError
	switch {
	case errors.As(err, &pe) && pe.Field == "version", errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", ErrNotEnvelope, err)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%w (%w)", ErrNoAnswer, err)
	}
	return fmt.Errorf("client: reading answer: %w", err)
}

func (c *Conn) readComponent(n uint32, sink *Sink) (Component, error) {
	cid, mt, size, err := c.fr.ReadComponentHeader(n)
	if err != nil {
		return Component{}, fmt.Errorf("client: reading component block: %w", err)
	}
	comp := Component{ID: cid, MediaType: mt, Size: int64(size)}
	var w io.Writer
	if sink != nil && sink.Open != nil {
		if w, err = sink.Open(cid, mt, int64(size)); err != nil {
			return comp, err
		}
	}
	if w == nil {
		comp.Content = make([]byte, 0, min(int(size), 1<<20))
		w = (*sliceWriter)(&comp.Content)
	}
	var progress func(int64, int64)
	if sink != nil {
		progress = sink.Progress
	}
	buf := make([]byte, 256<<10)
	var done int64
	src := c.fr.Content()
	for done < int64(size) {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout()))
		k, rerr := src.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return comp, fmt.Errorf("client: writing component %s: %w", cid, werr)
			}
			done += int64(k)
			if progress != nil {
				progress(done, int64(size))
			}
		}
		if rerr == io.EOF && done < int64(size) {
			return comp, fmt.Errorf("client: component %s ended after %d of %d bytes: %w", cid, done, size, io.ErrUnexpectedEOF)
		}
		if rerr != nil && rerr != io.EOF {
			return comp, fmt.Errorf("client: reading component %s after %d of %d bytes: %w", cid, done, size, rerr)
		}
	}
	return comp, nil
}

type sliceWriter []byte

func (s *sliceWriter) Write(p []byte) (int, error) {
	*s = append(*s, p...)
	return len(p), nil
}
