package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// NewDirectClient returns the HTTP client that fetches presigned component URLs: bounded
// connect and header waits, no overall timeout (a large object may take minutes; stalls are
// caught per read), small connection buffers, no compression. The read buffer stays small
// because directBody's copy buffer is larger: bufio then reads the socket straight into the
// copy buffer, so a large read buffer would only be held, never used, by each open stream.
func NewDirectClient(headerTimeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: headerTimeout,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ReadBufferSize:        directReadBufferSize,
			WriteBufferSize:       16 << 10,
		},
		// A presigned URL answers itself; a redirect is unexpected.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetchDirect opens hdr's presigned URL for exactly hdr's bytes. The URL is a capability:
// it never appears in an error or a log line.
func (d *Dispatcher) fetchDirect(ctx context.Context, hdr *retrievev1.ComponentHeader) (io.Reader, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hdr.GetDirectUrl(), nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		cancel()
		return nil, nil, errors.New("retrieve service handed off to an unusable URL")
	}
	partial := hdr.GetOffset() > 0 || hdr.GetSize() < hdr.GetTotalSize()
	if partial {
		if hdr.GetSize() == 0 {
			cancel()
			return eofReader{}, func() {}, nil
		}
		req.Header.Set("Range", "bytes="+strconv.FormatInt(hdr.GetOffset(), 10)+"-"+strconv.FormatInt(hdr.GetOffset()+hdr.GetSize()-1, 10))
	}
	client := d.Direct
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		d.logger().WarnContext(ctx, "direct component read failed", slog.String("host", req.URL.Host), slog.Any("err", errors.Unwrap(err)))
		return nil, nil, doip.Errorf(doip.KindUnavailable, "component storage unavailable")
	}
	want := http.StatusOK
	if partial {
		want = http.StatusPartialContent
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		cancel()
		return nil, nil, doip.Errorf(doip.KindNotFound, "component %q is not stored", hdr.GetComponentId())
	case resp.StatusCode != want:
		resp.Body.Close()
		cancel()
		d.logger().WarnContext(ctx, "direct component read refused", slog.String("host", req.URL.Host), slog.Int("status", resp.StatusCode))
		return nil, nil, doip.Errorf(doip.KindUnavailable, "component storage unavailable")
	case resp.ContentLength >= 0 && resp.ContentLength != hdr.GetSize():
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("direct read of %s: %d bytes offered, %d announced", hdr.GetComponentId(), resp.ContentLength, hdr.GetSize())
	}
	b := &directBody{rc: resp.Body, remaining: hdr.GetSize(), stall: d.callTimeout(), cancel: cancel}
	return b, b.close, nil
}

// directBody yields exactly remaining bytes of an HTTP body. A read that makes no progress
// for stall cancels the request, so a storage that stops sending cannot hold a client.
type directBody struct {
	rc        io.ReadCloser
	remaining int64
	stall     time.Duration
	cancel    context.CancelFunc
	timer     *time.Timer
	once      sync.Once
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.stall, b.cancel)
	} else {
		b.timer.Reset(b.stall)
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF && b.remaining > 0 {
		return n, fmt.Errorf("direct read ended with %d bytes missing: %w", b.remaining, io.ErrUnexpectedEOF)
	}
	if err == io.EOF || (err == nil && b.remaining == 0) {
		return n, nil
	}
	return n, err
}

// WriteTo copies the remaining bytes through one buffer of directCopySize.
func (b *directBody) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, min(b.remaining, directCopySize))
	var total int64
	for b.remaining > 0 {
		n, err := b.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (b *directBody) close() {
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cancel()
		_ = b.rc.Close()
	})
}

// directCopySize is the copy buffer of a direct read: large enough that each socket write
// moves a lot, small enough that a stream whose client reads slowly (and so holds it) costs
// little: with directReadBufferSize, at most 320 KiB per stream.
const directCopySize = 256 << 10

// directReadBufferSize is each storage connection's read buffer; reads of directCopySize
// bypass it.
const directReadBufferSize = 64 << 10

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
