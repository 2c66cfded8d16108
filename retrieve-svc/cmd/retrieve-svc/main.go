// Command retrieve-svc serves FDO records and component bytes over gRPC
// (doip.retrieve.v1.RetrieveService) to the DOIP gateway and the workflow workers. Records come
// from the FDO façade (FDO_API) or, without one, from <data-dir>/records; component bytes come
// from lakeFS through its S3 gateway (--storage s3, the default when LAKEFS_URL is set) or from
// the folder backend at <data-dir>, laid out as the same keys. On first start with an empty
// data dir the folder backend gets the embedded sample objects; S3 is never seeded. Health and
// reflection are registered, so grpcurl works against it. Run with -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/retrieve"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/sampledata"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "retrieve-svc: %v\n", err)
		os.Exit(1)
	}
}

// run starts the service and serves until ctx is done, then drains and returns nil. It
// returns an error if the configuration is bad or the service cannot start.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return serve(ctx, args, getenv, stderr, nil)
}

// serve is run with a hook that learns the listening address once the port is open (tests
// listen on 127.0.0.1:0).
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(net.Addr)) error {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		config.Usage(stderr)
		return nil
	}
	if err != nil {
		return err
	}
	logger := slogapp.New(stderr, cfg.LogLevel, cfg.LogFormat, "retrieve-svc")
	logger.Debug("configuration", slog.Any("config", cfg))

	var bucket storage.Bucket
	storageAttrs := []any{slog.String("storage", cfg.Storage)}
	if cfg.Storage == config.StorageS3 {
		b, err := storages3.New(ctx, storages3.Options{
			Endpoint:  cfg.LakeFSURL,
			Bucket:    cfg.LakeFSRepo,
			AccessKey: cfg.LakeFSUser,
			SecretKey: cfg.LakeFSPassword,
			Timeout:   cfg.S3Timeout,
			PartSize:  cfg.S3PartSize,
		}, logger)
		if err != nil {
			return err
		}
		defer b.Close()
		bucket = b
		storageAttrs = append(storageAttrs, slog.String("s3_endpoint", b.Endpoint()), slog.String("bucket", b.Name()))
		// One look at the bucket, in the background: the service starts while S3 is down,
		// and a wrong repository or key shows in the log right away.
		var checked sync.WaitGroup
		defer checked.Wait()
		checkCtx, cancelCheck := context.WithCancel(ctx)
		defer cancelCheck()
		checked.Go(func() { checkBucket(checkCtx, b, logger) })
	} else {
		if cfg.SeedSamples {
			if err := seed(cfg.DataDir, logger); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		b, err := storageos.New(cfg.DataDir)
		if err != nil {
			return err
		}
		defer b.Close()
		bucket = b
		storageAttrs = append(storageAttrs, slog.String("data_dir", cfg.DataDir))
	}

	var src fdo.Source
	kind := "folder"
	if cfg.FDOAPI != "" {
		kind = "facade"
		src, err = fdo.NewClient(cfg.FDOAPI, fdo.ClientOptions{Timeout: cfg.FDOTimeout}, logger)
		if err != nil {
			return err
		}
	} else {
		src = fdo.NewDir(cfg.DataDir)
	}
	records := fdo.NewCache(src, cfg.CacheTTL, cfg.CacheSize)

	srv := grpcapp.NewServer()
	retrievev1.RegisterRetrieveServiceServer(srv.GRPC, retrieve.NewServer(records, bucket, cfg.Branch, logger))
	srv.SetServing(retrieve.ServiceName)

	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	attrs := append([]any{slog.String("addr", lis.Addr().String()), slog.String("records", kind)}, storageAttrs...)
	attrs = append(attrs, slog.String("branch", cfg.Branch))
	if kind == "folder" && cfg.Storage == config.StorageS3 {
		attrs = append(attrs, slog.String("records_dir", cfg.DataDir))
	}
	if cfg.FDOAPI != "" {
		attrs = append(attrs, slog.String("fdo_api", cfg.FDOAPIMasked()))
	}
	logger.Info("listening", attrs...)
	if ready != nil {
		ready(lis.Addr())
	}
	if err := srv.Run(ctx, lis, cfg.DrainTimeout, logger); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// checkBucket logs whether the S3 bucket answers; it never stops the service.
func checkBucket(ctx context.Context, b *storages3.Bucket, logger *slog.Logger) {
	if err := b.Check(ctx); err != nil {
		if ctx.Err() == nil {
			logger.WarnContext(ctx, "s3 bucket not usable yet", slog.String("s3_endpoint", b.Endpoint()),
				slog.String("bucket", b.Name()), slog.Any("err", err))
		}
		return
	}
	logger.InfoContext(ctx, "s3 bucket ok", slog.String("s3_endpoint", b.Endpoint()), slog.String("bucket", b.Name()))
}

// seed writes the sample objects into dir when it is missing or empty; a dir with anything in
// it is left alone.
func seed(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("data dir: %w", err)
	case len(entries) > 0:
		return nil
	}
	n, err := sampledata.Seed(dir)
	if err != nil {
		return fmt.Errorf("seeding samples: %w", err)
	}
	logger.Info("seeded sample objects", slog.String("data_dir", dir), slog.Int("files", n))
	return nil
}
