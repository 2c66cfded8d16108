package doiptext_test

import (
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
)

// The codec implements the server's interface without importing the server.
var _ gateway.ServerCodec = (*doiptext.ServerCodec)(nil)
