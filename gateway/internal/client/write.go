package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// Upload is one element a create or an update sends: its bytes are read from Body as they
// go out, so that an upload of any size passes through without being held.
type Upload struct {
	ID, MediaType string
	Size          int64
	Body          io.Reader
}

// progressWriter counts bytes on their way out.
type progressWriter struct {
	w     io.Writer
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
	return n, err
}

// Write sends a create (op 0x08) or an update (op 0x03) in the binary envelope: one
// metadata block, then a component block per upload, streamed; progress, if set, learns of
// the bytes sent. It returns the answer.
func (c *Conn) Write(ctx context.Context, op doip.Op, objectID string, meta map[string]any, ups []Upload, progress func(done, total int64)) (*Response, error) {
	if meta == nil {
		meta = map[string]any{}
	}
	if _, ok := meta["operation"]; !ok {
		meta["operation"] = op.String()
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("client: encoding metadata: %w", err)
	}
	total := envelope.JSONBlockLen(len(js))
	var content int64
	for _, u := range ups {
		if u.Size < 0 || u.Size > math.MaxUint32 {
			return nil, fmt.Errorf("client: element %s: %d bytes, the envelope carries 0 to %d", u.ID, u.Size, uint32(math.MaxUint32))
		}
		total += envelope.ComponentBlockLen(u.ID, u.MediaType, uint64(u.Size))
		content += u.Size
	}
	if total > math.MaxUint32 {
		return nil, fmt.Errorf("client: a write of %d bytes is more than one envelope carries", total)
	}
	// Deadlines are refreshed while bytes flow: an upload may take longer than one timeout.
	// A cancelled ctx closes the connection, which ends the upload at once.
	_ = c.nc.SetDeadline(time.Now().Add(c.timeout()))
	defer c.nc.SetDeadline(time.Time{})
	defer context.AfterFunc(ctx, func() { _ = c.nc.Close() })()
	if err := c.fr.WriteHeader(envelope.Header{Version: envelope.Version, Type: envelope.TypeRequest, Op: op, PayloadLen: uint32(total)}, objectID); err != nil {
		return nil, err
	}
	if err := c.fr.WriteJSONBlock(envelope.BlockMetadata, js); err != nil {
		return nil, err
	}
	pw := &progressWriter{w: &deadlineWriter{c: c, w: c.fr.Writer()}, total: content, fn: progress}
	for _, u := range ups {
		if err := c.fr.WriteComponentHeader(u.ID, u.MediaType, uint32(u.Size)); err != nil {
			return nil, err
		}
		if err := doip.CopyExact(pw, u.Body, u.Size); err != nil {
			return nil, fmt.Errorf("client: sending element %s: %w", u.ID, err)
		}
	}
	if err := c.bw.Flush(); err != nil {
		return nil, fmt.Errorf("client: sending %s: %w", op, err)
	}
	_ = c.nc.SetDeadline(time.Now().Add(c.timeout()))
	return c.readResponse(nil)
}

// deadlineWriter refreshes the connection's deadline before each write.
type deadlineWriter struct {
	c *Conn
	w io.Writer
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.c.nc.SetDeadline(time.Now().Add(d.c.timeout()))
	return d.w.Write(p)
}

// StdElement is one element pair of a standard create or update: {"id":…} and its bytes.
type StdElement struct {
	ID   string
	Body io.Reader
}

// DoWrite sends a standard request whose first segment is first (a StdRequest, or raw JSON
// for fields it does not model), then the digital object as the next segment (when do is
// not nil), then each element's header and bytes, streamed in chunks; and reads the answer.
func (c *StdConn) DoWrite(ctx context.Context, first any, do any, els []StdElement, progress func(done int64)) (*StdResponse, error) {
	return c.doWith(ctx, first, "write", nil, func() error {
		if do != nil {
			if err := c.wr.WriteJSON(do); err != nil {
				return err
			}
		}
		var done int64
		for _, e := range els {
			if err := c.wr.WriteJSON(map[string]string{"id": e.ID}); err != nil {
				return err
			}
			_ = c.nc.SetDeadline(time.Now().Add(c.timeout()))
			n, err := c.wr.WriteBytesFrom(&stdProgress{r: e.Body, c: c, done: &done, fn: progress}, -1)
			if err != nil {
				return fmt.Errorf("client: sending element %s after %d bytes: %w", e.ID, n, err)
			}
		}
		return nil
	})
}

// stdProgress refreshes the deadline and reports progress as an element's bytes are read.
type stdProgress struct {
	r    io.Reader
	c    *StdConn
	done *int64
	fn   func(int64)
}

func (s *stdProgress) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	*s.done += int64(n)
	_ = s.c.nc.SetDeadline(time.Now().Add(s.c.timeout()))
	if s.fn != nil && n > 0 {
		s.fn(*s.done)
	}
	return n, err
}

func (c *StdConn) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 60 * time.Second
	}
	return c.Timeout
}
