package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// s3GetBuffer is the copy buffer of the direct GET: large enough that every read goes from
// the socket straight into it, as the gateway's own storage reads do.
const s3GetBuffer = 256 << 10

// s3Get is the baseline of the component scenarios against S3: signed GETs (SigV4, unsigned
// payload) of cfg.url one after another on one kept-alive connection, each body read to its
// end and dropped, for cfg.n requests (at least one) or until the duration ends.
func s3Get(ctx context.Context, cfg config, accessKey, secretKey string) (*result, error) {
	if cfg.url == "" || accessKey == "" || secretKey == "" {
		return nil, errors.New("s3-get needs -url, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	sampler := startRSS(cfg.pids)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	res := &result{Scenario: cfg.scenario, Conns: 1}
	buf := make([]byte, s3GetBuffer)
	start := time.Now()
	for i := int64(0); ctx.Err() == nil && (cfg.n == 0 || i < cfg.n); i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.url, nil)
		if err != nil {
			return nil, fmt.Errorf("-url: %w", err)
		}
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		t0 := time.Now()
		resp, err := client.Do(signer.SignV4(*req, accessKey, secretKey, "", "us-east-1"))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, err
		}
		n, err := io.CopyBuffer(writerOnly{io.Discard}, resp.Body, buf)
		resp.Body.Close()
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			return nil, fmt.Errorf("GET %s: after %d bytes: %w", cfg.url, n, err)
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("GET %s: %s", cfg.url, resp.Status)
		default:
			res.latencies = append(res.latencies, time.Since(t0))
			res.Requests++
			res.Bytes += n
		}
	}
	res.finish(time.Since(start))
	res.PeakRSSMiB = sampler.stop()
	return res, nil
}

// writerOnly hides io.Discard's ReadFrom, which reads in 8 KiB steps, so that CopyBuffer
// uses the large buffer.
type writerOnly struct{ io.Writer }
