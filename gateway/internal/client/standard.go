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
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
)

// StdConn is a connection that speaks standard DOIP v2.0 text segments (a gateway's port
// 3568, or any DOIP server such as Cordra), as doipy and CNRI's clients do.
type StdConn struct {
	nc net.Conn
	bw *bufio.Writer
	rd *doiptext.Reader
	wr *doiptext.Writer
	// Timeout bounds each request, refreshed while bytes flow. Zero means 60 s.
	Timeout time.Duration
}

// DialStandard connects to addr, with TLS when tlsConfig is not nil (every standard DOIP
// server expects TLS).
func DialStandard(ctx context.Context, addr string, tlsConfig *tls.Config) (*StdConn, error) {
	c, err := Dial(ctx, addr, tlsConfig)
	if err != nil {
		return nil, err
	}
	return NewStdConn(c.nc), nil
}

// NewStdConn wraps an established connection.
func NewStdConn(nc net.Conn) *StdConn {
	bw := bufio.NewWriterSize(nc, 32<<10)
	rd := doiptext.NewReader(bufio.NewReaderSize(nc, 256<<10))
	rd.MaxSegment, rd.MaxMessage = 64<<20, 1<<62
	return &StdConn{nc: nc, bw: bw, rd: rd, wr: doiptext.NewWriter(bw)}
}

// Close closes the connection.
func (c *StdConn) Close() error { return c.nc.Close() }

// StdRequest is a standard DOIP request's first segment.
type StdRequest struct {
	RequestID   string         `json:"requestId,omitempty"`
	TargetID    string         `json:"targetId"`
	OperationID string         `json:"operationId"`
	Attributes  map[string]any `json:"attributes,omitempty"`
	Input       any            `json:"input,omitempty"`
	// Authentication is {"token":…} or {"username":…,"password":…}; secret.
	Authentication map[string]string `json:"authentication,omitempty"`
}

// StdResponse is a standard DOIP response: the first segment's fields and the JSON
// segments that followed it. Bytes segments went to the sink, or into Bytes.
type StdResponse struct {
	RequestID  string                     `json:"requestId,omitempty"`
	Status     string                     `json:"status"`
	Attributes map[string]json.RawMessage `json:"attributes,omitempty"`
	Output     json.RawMessage            `json:"output,omitempty"`
	// Segments holds the JSON segments after the first one, in order.
	Segments []json.RawMessage `json:"-"`
	// Bytes holds each bytes segment that had no sink, in order.
	Bytes [][]byte `json:"-"`
}

// Message returns attributes.message of an error response.
func (r *StdResponse) Message() string {
	var m string
	_ = json.Unmarshal(r.Attributes["message"], &m)
	return m
}

// Success reports a 0.DOIP/Status.001 response (or the short form old servers send).
func (r *StdResponse) Success() bool {
	return r.Status == "0.DOIP/Status.001" || r.Status == "0.DOIP/Status.1"
}

// DoRaw sends one request whose first segment is the given JSON (for fields StdRequest does
// not model, such as authentication) and reads the whole response.
func (c *StdConn) DoRaw(ctx context.Context, firstSegment string) (*StdResponse, error) {
	return c.do(ctx, json.RawMessage(firstSegment), "request", nil)
}

// Do sends req and reads the whole response. sink, if not nil, returns the writer for the
// n-th bytes segment (counting from 0); a nil writer keeps the bytes in memory. A response
// whose status is not success is returned together with a *doip.Error.
func (c *StdConn) Do(ctx context.Context, req StdRequest, sink func(n int) (io.Writer, error)) (*StdResponse, error) {
	return c.do(ctx, req, req.OperationID, sink)
}

func (c *StdConn) do(ctx context.Context, req any, op string, sink func(n int) (io.Writer, error)) (*StdResponse, error) {
	return c.doWith(ctx, req, op, sink, nil)
}

// doWith is do with input: more, if not nil, writes the segments after the first.
func (c *StdConn) doWith(ctx context.Context, req any, op string, sink func(n int) (io.Writer, error), more func() error) (*StdResponse, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	} else {
		_ = c.nc.SetDeadline(time.Now().Add(timeout))
	}
	defer c.nc.SetDeadline(time.Time{})
	if err := c.wr.WriteJSON(req); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", op, err)
	}
	if more != nil {
		if err := more(); err != nil {
			return nil, fmt.Errorf("client: sending %s: %w", op, err)
		}
	}
	if err := c.wr.End(); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", op, err)
	}
	var resp *StdResponse
	for n := 0; ; {
		seg, err := c.rd.NextSegment()
		if err != nil {
			return resp, fmt.Errorf("client: reading the answer to %s: %w", op, err)
		}
		switch {
		case seg.Kind == doiptext.SegmentEnd:
			if resp == nil {
				return nil, errors.New("client: empty answer")
			}
			if !resp.Success() {
				return resp, &doip.Error{Kind: doip.ErrorKind(resp.Status), Message: resp.Message()}
			}
			return resp, nil
		case resp == nil:
			if seg.Kind != doiptext.SegmentJSON {
				return nil, errors.New("client: the answer does not start with a JSON segment")
			}
			resp = &StdResponse{}
			if err := json.Unmarshal(seg.JSON, resp); err != nil {
				return nil, fmt.Errorf("client: first segment: %w", err)
			}
		case seg.Kind == doiptext.SegmentJSON:
			resp.Segments = append(resp.Segments, seg.JSON)
		default:
			var w io.Writer
			if sink != nil {
				if w, err = sink(n); err != nil {
					return resp, err
				}
			}
			if w == nil {
				b, err := io.ReadAll(seg.Bytes)
				if err != nil {
					return resp, err
				}
				resp.Bytes = append(resp.Bytes, b)
			} else if err := c.copyBody(w, seg.Bytes, timeout); err != nil {
				return resp, err
			}
			n++
		}
	}
}

func (c *StdConn) copyBody(w io.Writer, r io.Reader, timeout time.Duration) error {
	buf := make([]byte, 256<<10)
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
