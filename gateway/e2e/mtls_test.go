package e2e_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/mtls"
	"github.com/fdo-doip/doip-gateway/shared/mtls/mtlstest"
)

func tlsEnv(f mtls.Files) []string {
	return []string{"GRPC_TLS_CERT=" + f.Cert, "GRPC_TLS_KEY=" + f.Key, "GRPC_TLS_CA=" + f.CA}
}

// With certificates configured, the gateway and the services speak mutual TLS; a gateway
// without a certificate is refused by the same services.
func TestInternalMutualTLS(t *testing.T) {
	skipShort(t)
	t.Parallel()
	dir := t.TempDir()
	s := &system{dataDir: filepath.Join(t.TempDir(), "data")}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir},
		tlsEnv(mtlstest.WriteTestFiles(t, dir, "retrieve"))...)
	s.invoke = start(t, "invoke-svc", 1, []string{"--listen", "127.0.0.1:0", "--retrieve-addr", s.retrieve.addr("grpc")},
		tlsEnv(mtlstest.WriteTestFiles(t, dir, "invoke"))...)
	gwArgs := []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", s.invoke.addr("grpc"), "--tls-mode", "off", "--call-timeout", "3s"}
	s.gateway = start(t, "doip-gateway", 2, gwArgs, tlsEnv(mtlstest.WriteTestFiles(t, dir, "gateway"))...)

	c := s.dial(t)
	resp, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "main-pdf"}}, nil)
	if err != nil || len(resp.Components) != 1 {
		t.Fatalf("retrieve over mutual TLS: %v", err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpInvoke, ObjectID: "Q123", Metadata: map[string]any{"workflow": "equation_extraction"}}, nil); err != nil {
		t.Errorf("invoke over mutual TLS (gateway → invoke-svc → retrieve-svc): %v", err)
	}

	plain := &system{dataDir: s.dataDir, retrieve: s.retrieve}
	plain.gateway = start(t, "doip-gateway", 2, gwArgs)
	pc := plain.dial(t)
	_, err = pc.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil)
	var de *doip.Error
	if !errors.As(err, &de) || de.Kind != doip.KindUnavailable {
		t.Errorf("a gateway without a certificate: %v, want Unavailable", err)
	}
}
