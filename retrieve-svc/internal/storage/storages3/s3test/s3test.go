// Package s3test runs a real S3 server for tests: versitygw (github.com/versity/versitygw,
// Apache-2.0) with its posix backend on a loopback port, serving a temporary folder.
//
// The binary is found through $VERSITYGW, then PATH, then ".tmp/bin/versitygw" in the working
// directory or any folder above it (the Makefile installs it to <repo>/.tmp/bin). When it is
// absent, [Start] skips the test, unless the environment variable CI is non-empty: then the
// test fails, because CI must never skip silently. Install it with
//
//	GOBIN=<dir> go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
package s3test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/tooltest"
)

// Version is the versitygw release the tests are written against.
const Version = "v1.8.0"

// InstallCommand installs versitygw into GOBIN.
const InstallCommand = "go install github.com/versity/versitygw/cmd/versitygw@" + Version

// Binary returns the path of the versitygw binary, or an error saying where it looked.
func Binary() (string, error) { return tooltest.Find("VERSITYGW", "versitygw") }

// Server is a running versitygw.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	Host      string // "127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Dir       string // the posix root: one folder per bucket, one file per object

	cmd      *exec.Cmd
	out      *logtest.Buffer
	exited   chan struct{} // closed when the process has exited
	stopOnce sync.Once
	buckets  atomic.Int64
}

// Start starts versitygw on a free loopback port with fresh random credentials and an empty
// root folder, waits until it answers, and stops it when the test ends. It skips (or, with
// CI set, fails) when the binary is missing.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tooltest.Missing(tb, fmt.Sprintf("s3test: %v; CI is set, so this test must not be skipped (install: GOBIN=<dir> %s)", err, InstallCommand),
			fmt.Sprintf("s3test: %v; skipping (install: GOBIN=<dir> %s, then put it on PATH or set VERSITYGW)", err, InstallCommand))
	}
	dir := tb.TempDir()
	var lastErr error
	for range 5 { // a port picked free can be taken before versitygw binds it
		s, err := start(tb, bin, dir)
		if err == nil {
			tb.Cleanup(func() {
				if err := s.Stop(); err != nil {
					tb.Logf("s3test: stopping versitygw: %v", err)
				}
			})
			return s
		}
		lastErr = err
	}
	tb.Fatalf("s3test: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin, dir string) (*Server, error) {
	port, err := tooltest.FreePort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &Server{
		Endpoint:  "http://" + host,
		Host:      host,
		AccessKey: "AK" + strings.ToUpper(rand.Text()[:14]),
		SecretKey: rand.Text() + rand.Text(),
		Dir:       dir,
		out:       &logtest.Buffer{Max: 1 << 20},
		exited:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", host,
		"--quiet", "--keep-alive", "posix", dir)
	s.cmd.Env = []string{} // no inherited VGW_* or ROOT_* settings
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	setPdeathsig(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("versitygw exited at start-up (%v):\n%s", s.cmd.ProcessState, s.out.String())
		default:
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			// Any answer, 403 included, means it is up, if it is versitygw's and not that
			// of another process that took the port first.
			if strings.EqualFold(resp.Header.Get("Server"), "VERSITYGW") {
				client.CloseIdleConnections()
				return s, nil
			}
			err = fmt.Errorf("%s answers as %q", host, resp.Header.Get("Server"))
		}
		if time.Now().After(deadline) {
			s.Stop()
			tb.Fatalf("s3test: versitygw on %s did not answer within 30s: %v\n%s", host, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, bounded by the deadline
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 10s) and waits for it to exit. It may be
// called more than once.
func (s *Server) Stop() error {
	var err error
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		if err = s.cmd.Process.Signal(os.Interrupt); err != nil {
			s.cmd.Process.Kill()
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			err = errors.New("versitygw ignored SIGINT for 10s; killed")
		}
	})
	return err
}

// Output returns what the server printed so far.
func (s *Server) Output() string { return s.out.String() }

// Client returns a minio-go client with the server's credentials, for setting up and
// inspecting what the code under test does.
func (s *Server) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := minio.New(s.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// CreateBucket creates a bucket with a new name and returns the name.
func (s *Server) CreateBucket(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("bucket-%03d", s.buckets.Add(1))
	s.MakeBucket(tb, name)
	return name
}

// MakeBucket creates the named bucket.
func (s *Server) MakeBucket(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(tb).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		tb.Fatalf("s3test: make bucket %q: %v", name, err)
	}
}
