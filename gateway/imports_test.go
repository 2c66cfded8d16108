// Package gateway_test checks that the gateway's imports point one way, down its layers:
// the framing-neutral model (doip) and the listeners' TLS set-up (tlsconf) at the bottom;
// the MaRDI answer JSON on doip; the codecs,
// which know doip but not each other; the server and the dispatcher, which know doip but
// not each other nor any codec; the HTTP face, which decodes with the standard codec and
// counts with the server's metrics; the set-up of a process; and the commands and end-to-end
// tests on top.
package gateway_test

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/layertest"
)

func TestImportsFollowLayers(t *testing.T) {
	t.Parallel()
	layertest.Check(t, ".", layertest.Rules{
		Module: "github.com/fdo-doip/doip-gateway/gateway",
		Shared: "github.com/fdo-doip/doip-gateway/shared",
		Layers: [][]string{
			{"internal/doip", "internal/tlstest", "internal/tlsconf", "internal/bytesize", "internal/httpapi/httpapitest"},
			{"internal/mardijson", "internal/access", "internal/doip/doiptest"},
			{"internal/envelope", "internal/segment", "internal/doiptext"},
			{"internal/gateway", "internal/dispatch", "internal/client"},
			{"internal/httpapi"},
			{"internal/config"},
			{"cmd/...", "e2e"},
		},
	})
}
