package mtls_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/mtls"
	"github.com/fdo-doip/doip-gateway/shared/mtls/mtlstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestLoadRules(t *testing.T) {
	t.Parallel()
	if c, err := mtls.Load(mtls.Files{}); c != nil || err != nil {
		t.Errorf("no files: %v %v, want nil, nil", c, err)
	}
	if _, err := mtls.Load(mtls.Files{Cert: "a.crt"}); err == nil || !strings.Contains(err.Error(), "key") || !strings.Contains(err.Error(), "CA") {
		t.Errorf("only a certificate: %v", err)
	}
	dir := t.TempDir()
	f := mtlstest.WriteTestFiles(t, dir, "server")
	if _, err := mtls.Load(mtls.Files{Cert: f.Cert, Key: f.Key, CA: filepath.Join(dir, "nope.pem")}); err == nil {
		t.Error("a missing CA file was accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mtls.Load(mtls.Files{Cert: f.Cert, Key: f.Key, CA: filepath.Join(dir, "empty.pem")}); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
}

// A client with a certificate from the CA gets through; plaintext and certificate-less
// clients do not.
func TestServerOptions(t *testing.T) {
	t.Parallel()
	var off *mtls.Config // what Load returns when no file is named
	if opts := off.ServerOptions(); len(opts) != 0 {
		t.Errorf("ServerOptions of a nil Config = %v, want none", opts)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srvFiles, cliFiles := mtlstest.WriteTestFiles(t, dir, "server"), mtlstest.WriteTestFiles(t, dir, "client")
	srvCfg, err := mtls.Load(srvFiles)
	if err != nil {
		t.Fatal(err)
	}
	cliCfg, err := mtls.Load(cliFiles)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(srvCfg.ServerOption())
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	check := func(opt grpc.DialOption) error {
		cc, err := grpc.NewClient(lis.Addr().String(), opt)
		if err != nil {
			return err
		}
		defer cc.Close()
		_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(cliCfg.DialOption()); err != nil {
		t.Errorf("client with a certificate: %v", err)
	}
	if err := check(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Error("a plaintext client got through")
	}
}
