package e2e_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// With AUTH_TOKENS set, invoke and purge need a token in every framing; hello and retrieve
// stay open; the token never appears in the gateway's logs.
func TestTokensForInvokeAndPurge(t *testing.T) {
	skipShort(t)
	t.Parallel()
	const token = "tok-e2e-0d5f9a"
	s := &system{dataDir: filepath.Join(t.TempDir(), "data")}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir})
	s.invoke = start(t, "invoke-svc", 1, []string{"--listen", "127.0.0.1:0", "--retrieve-addr", s.retrieve.addr("grpc")})
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", s.invoke.addr("grpc"), "--tls-mode", "optional"}, "AUTH_TOKENS=other-token,"+token)

	c := s.dial(t)
	echo := func(meta map[string]any) error {
		m := map[string]any{"workflow": "echo"}
		for k, v := range meta {
			m[k] = v
		}
		_, err := c.Do(t.Context(), client.Request{Op: doip.OpInvoke, ObjectID: "Q123", Metadata: m}, nil)
		return err
	}
	var de *doip.Error
	if err := echo(nil); !errors.As(err, &de) || de.Kind != doip.KindUnauthenticated {
		t.Errorf("invoke without a token: %v, want Unauthenticated", err)
	}
	if err := echo(map[string]any{"token": "guess"}); !errors.As(err, &de) || de.Kind != doip.KindUnauthenticated {
		t.Errorf("invoke with a wrong token: %v", err)
	}
	if err := echo(map[string]any{"token": token}); err != nil {
		t.Errorf("invoke with the token: %v", err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpPurge, ObjectID: "Q123"}, nil); !errors.As(err, &de) || de.Kind != doip.KindUnauthenticated {
		t.Errorf("purge without a token: %v", err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil); err != nil {
		t.Errorf("retrieve needs no token: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sc, err := client.DialStandard(ctx, s.segmentsAddr(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	_, err = sc.Do(ctx, client.StdRequest{TargetID: "Q123", OperationID: "echo"}, nil)
	if !errors.As(err, &de) || de.Kind != "0.DOIP/Status.102" {
		t.Errorf("standard invoke without authentication: %v, want 102", err)
	}
	// doipy and Cordra send username and password; the password stands for the token.
	resp, err := sc.DoRaw(ctx, `{"targetId":"Q123","operationId":"echo","authentication":{"username":"u","password":"`+token+`"}}`)
	if err != nil || !resp.Success() {
		t.Errorf("standard invoke with the token as password: %v", err)
	}
	// Stop the gateway, so that its log is all there (it writes in batches and flushes at
	// shutdown), then look for the token in every line.
	s.gateway.stop(t)
	if !eventuallyLog(t, s.gateway, `"msg":"stopped"`, 10*time.Second) {
		t.Fatal("the gateway logged no stopped line")
	}
	if strings.Contains(s.gateway.logText(), token) {
		t.Error("the token appears in the gateway's logs")
	}
}
