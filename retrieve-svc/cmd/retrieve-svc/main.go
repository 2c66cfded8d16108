// Command retrieve-svc serves FDO records and component bytes over gRPC
// (doip.retrieve.v1.RetrieveService) to the DOIP gateway and the workflow workers. Records come
// from the FDO façade (FDO_API) or, without one, from <data-dir>/records; component bytes come
// from lakeFS through its S3 gateway (--storage s3, the default when LAKEFS_URL is set) or from
// the folder backend at <data-dir>, laid out as the same keys. On first start with an empty
// data dir the folder backend gets the embedded sample objects; S3 is never seeded. Health and
// reflection are registered, so grpcurl works against it. An admin HTTP server on
// --admin-addr (127.0.0.1:9551) serves /metrics, /healthz and /readyz. Run with -h for the
// flags.
//
// It also serves doip.search.v1.SearchService: by default from an embedded full-text index
// of the records and derived equations (in <data-dir>/search-index), kept in step with every
// commit; "retrieve-svc reindex [flags]" rebuilds that index from storage and exits (run it
// while the service is stopped).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/lakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/retrieve"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/sampledata"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagelakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/chunkcodec"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
	"github.com/fdo-doip/doip-gateway/shared/mtls"
	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

func main() {
	settings.Main("retrieve-svc", run)
}

// run starts the service and serves until ctx is done, then drains and returns nil. It
// returns an error if the configuration is bad or the service cannot start; for -h, a
// [*settings.HelpError] carrying the usage. Tests listen on 127.0.0.1:0 and learn the ports
// through [grpcapp.WithReady].
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	reindexOnly := len(args) > 0 && args[0] == reindexCommand
	if reindexOnly {
		args = args[1:]
	}
	cfg, err := config.Load(args, getenv)
	if err != nil { // a *settings.HelpError for -h: main prints the usage
		return err
	}
	logger := slogapp.New(stderr, cfg.LogLevel, cfg.LogFormat, "retrieve-svc")
	logger.Debug("configuration", slog.Any("config", cfg))

	var (
		bucket  storage.Bucket
		checker interface{ Check(context.Context) error } // storage to look at for readiness; nil: none
	)
	storageAttrs := []any{slog.String("storage", cfg.Storage)}
	if cfg.Storage == config.StorageS3 || cfg.Storage == config.StorageLakeFS {
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
		bucket, checker = b, b
		if cfg.Storage == config.StorageLakeFS {
			api, err := lakefs.New(lakeFSAPIURL(cfg.LakeFSURL), cfg.LakeFSRepo, cfg.LakeFSUser, cfg.LakeFSPassword, nil)
			if err != nil {
				return err
			}
			lb := storagelakefs.New(b, api, logger)
			bucket, checker = lb, lb
		}
		storageAttrs = append(storageAttrs, slog.String("s3_endpoint", b.Endpoint()), slog.String("bucket", b.Name()))
		// One look at the bucket, in the background: the service starts while S3 is down,
		// and a wrong repository or key shows in the log right away.
		var checked sync.WaitGroup
		defer checked.Wait()
		checkCtx, cancelCheck := context.WithCancel(ctx)
		defer cancelCheck()
		checked.Go(func() { checkBucket(checkCtx, checker, b.Endpoint(), b.Name(), logger) })
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
		// Writes killed mid-way (kill -9, power loss) leave temporary files; none runs yet.
		n, err := b.CleanTemp(ctx)
		if err != nil {
			logger.Warn("temporary files not all removed", slog.Int("removed", n), slog.Any("err", err))
		} else if n > 0 {
			logger.Info("removed temporary files of interrupted writes", slog.Int("removed", n))
		}
		bucket = b
		storageAttrs = append(storageAttrs, slog.String("data_dir", cfg.DataDir))
	}

	var src interface {
		fdo.Source
		fdo.TypeSource
	}
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
	reg := metrics.NewRegistry()
	records := fdo.NewCache(src, cfg.CacheTTL, cfg.CacheSize, fdo.WithMetrics(fdo.NewCacheMetrics(reg)))
	// Type records are few and change rarely: a cache of their own, with the records' TTL.
	types := fdo.NewTypeCache(src, cfg.CacheTTL, 64)

	searcher, err := openSearch(cfg, src, bucket, reindexOnly, logger)
	if err != nil {
		return err
	}
	defer searcher.close()
	if reindexOnly {
		return searcher.reindex(ctx, cfg, logger)
	}
	retrieveOpts := []retrieve.Option{retrieve.WithMetrics(retrieve.NewMetrics(reg)), retrieve.WithPresign(cfg.PresignExpiry), retrieve.WithTypes(types),
		retrieve.WithComponentCache(int64(cfg.CacheBytes), 1<<20, cfg.CacheBlobTTL)}
	if searcher != nil && searcher.index != nil {
		retrieveOpts = append(retrieveOpts, retrieve.WithObserver(searcher.index))
	}
	searchCtx, stopSearch := context.WithCancel(ctx)
	defer stopSearch()
	searcher.start(searchCtx, logger)

	grpcMetrics := metrics.NewGRPCServer(reg)
	internalTLS, err := mtls.Load(mtls.Files{Cert: cfg.GRPCTLSCert, Key: cfg.GRPCTLSKey, CA: cfg.GRPCTLSCA})
	if err != nil {
		return err
	}
	serverOpts := append(grpcMetrics.ServerOptions(), internalTLS.ServerOptions()...)
	serverOpts = append(serverOpts, grpcapp.MaxConnectionAge(cfg.MaxConnectionAge, cfg.MaxConnectionAgeGrace)...)
	serverOpts = append(serverOpts, chunkcodec.Server)
	srv := grpcapp.NewServer(serverOpts...)
	retrieveOpts = append(retrieveOpts, retrieve.WithWrites(retrieve.WriteLimits{MaxElementSize: int64(cfg.MaxElementSize), MaxElements: cfg.MaxElements,
		IDPrefix: cfg.IDPrefix, ClientIDs: cfg.ClientIDs}))
	retrievev1.RegisterRetrieveServiceServer(srv.GRPC, retrieve.NewServer(records, bucket, cfg.Branch, logger, retrieveOpts...))
	srv.SetServing(retrieve.ServiceName)
	if searcher != nil {
		searchv1.RegisterSearchServiceServer(srv.GRPC, search.NewServer(searcher.backend, records, logger))
		srv.SetServing(search.ServiceName)
	}
	grpcMetrics.InitializeMetrics(srv.GRPC)

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
	err = srv.Serve(ctx, lis, grpcapp.ServeOptions{
		DrainTimeout: cfg.DrainTimeout,
		AdminAddr:    cfg.AdminAddr,
		AdminHandler: admin.NewHandler(reg, readiness(srv.Ready, checker), logger),
	}, logger)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// checkBucket logs whether the S3 bucket (and the lakeFS API) answers; it never stops the
// service.
func checkBucket(ctx context.Context, b interface{ Check(context.Context) error }, endpoint, bucket string, logger *slog.Logger) {
	if err := b.Check(ctx); err != nil {
		if ctx.Err() == nil {
			logger.WarnContext(ctx, "s3 bucket not usable yet", slog.String("s3_endpoint", endpoint),
				slog.String("bucket", bucket), slog.Any("err", err))
		}
		return
	}
	logger.InfoContext(ctx, "s3 bucket ok", slog.String("s3_endpoint", endpoint), slog.String("bucket", bucket))
}

// readyCheckTTL is how long one look at storage answers /readyz, so that probes do not
// become storage traffic.
const readyCheckTTL = 5 * time.Second

// readiness is ready, and then, where storage can be checked, storage answering with this
// service's credentials (a HEAD of the bucket; for lakeFS the repository through its API
// too). The storage check's result is kept for readyCheckTTL. The reason names the cause
// (retrieve.StorageCause), never a key.
func readiness(ready admin.ReadyFunc, storage interface{ Check(context.Context) error }) admin.ReadyFunc {
	if storage == nil {
		return ready
	}
	var (
		mu      sync.Mutex
		checked time.Time
		last    error
	)
	return func(ctx context.Context) error {
		if err := ready(ctx); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if time.Since(checked) > readyCheckTTL {
			last = storage.Check(ctx)
			checked = time.Now()
			if ctx.Err() != nil {
				checked = time.Time{}
			}
		}
		if last != nil {
			return fmt.Errorf("component storage not usable%s", retrieve.StorageCause(last))
		}
		return nil
	}
}

// lakeFSAPIURL is the lakeFS URL with a scheme (lakefs.New wants one): ParseEndpoint's rule
// for URLs without one.
func lakeFSAPIURL(raw string) string {
	if strings.Contains(raw, "://") {
		return raw
	}
	if _, secure, err := storages3.ParseEndpoint(raw); err == nil && !secure {
		return "http://" + raw
	}
	return "https://" + raw
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
