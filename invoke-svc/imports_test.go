// Package invokesvc_test checks that invoke-svc's imports point one way, down its layers:
// the workflow contract and the extraction engine; what builds on one of them (the workflows'
// helpers, the worker's service, its admission); the workflows that combine them; the set-up
// of the process; and the commands on top.
package invokesvc_test

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/layertest"
)

func TestImportsFollowLayers(t *testing.T) {
	t.Parallel()
	layertest.Check(t, ".", layertest.Rules{
		Module: "github.com/fdo-doip/doip-gateway/invoke-svc",
		Shared: "github.com/fdo-doip/doip-gateway/shared",
		Layers: [][]string{
			{"internal/workflow", "internal/eqextract"},
			{"internal/eqextract/corpus", "internal/ollama", "internal/extractproc", "internal/admission", "internal/invoke", "internal/objectstore", "internal/workflow/echo"},
			{"internal/workflow/equations"},
			{"internal/config"},
			{"cmd/..."},
		},
	})
}
