package gateway

import (
	"bufio"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// CodecFactory makes the codec for a new connection. r is positioned at the first byte
// after any TLS handshake; the factory may Peek it to choose a framing. w is flushed by the
// server after each answer.
type CodecFactory func(r *bufio.Reader, w *bufio.Writer, lim doip.Limits) (doip.ServerCodec, error)
