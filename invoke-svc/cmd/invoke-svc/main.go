// Command invoke-svc is the workflow worker behind the DOIP gateway: a gRPC server of
// doip.invoke.v1.InvokeService (proto/doip/invoke/v1/invoke_service.proto) that lists its
// workflows and runs them, streaming progress, derived components and the result. It also
// serves gRPC health and reflection. It is stateless, so any number of replicas can run
// behind one gateway.
//
// Its workflows are echo, which returns its params, for checking a deployment, and
// equation_extraction. Run as "invoke-svc extract", it is the child process that one
// extraction runs in (package extractproc), reading its request on stdin.
// Flags and environment variables are described by `invoke-svc -h` and in invoke-svc/README.md.
//
// An admin HTTP server on --admin-addr (127.0.0.1:9552) serves /metrics, /healthz and
// /readyz. On SIGINT or SIGTERM it turns health NOT_SERVING (and /readyz 503), lets in-flight
// invocations finish for up to --drain-timeout, then stops.
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/admission"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/extractproc"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/invoke"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/objectstore"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/ollama"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow/echo"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow/equations"
	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/backend"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
	"github.com/fdo-doip/doip-gateway/shared/mtls"
	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == extractproc.ChildArg {
		// A child extractor started by this binary's own workflows (package extractproc).
		os.Exit(extractproc.Serve(os.Stdin, os.Stdout, os.Stderr))
	}
	settings.Main("invoke-svc", run)
}

// run runs the service until ctx is done, then drains it. It returns nil after a clean
// shutdown; for -h, a [*settings.HelpError] carrying the usage. Tests listen on port 0 and
// learn the ports through [grpcapp.WithReady].
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv)
	if err != nil { // a *settings.HelpError for -h: main prints the usage
		return err
	}
	reg := metrics.NewRegistry()
	logger := slogapp.New(stderr, cfg.LogLevel, cfg.LogFormat, "invoke-svc")
	// Workflows read sources and write derived components through retrieve-svc; the
	// connection comes up (and comes back) by itself. Calls carry the request id of the
	// invocation that makes them.
	internalTLS, err := mtls.Load(mtls.Files{Cert: cfg.GRPCTLSCert, Key: cfg.GRPCTLSKey, CA: cfg.GRPCTLSCA})
	if err != nil {
		return err
	}
	dialTLS := backend.WithDialOptions()
	if internalTLS != nil {
		dialTLS = backend.WithDialOptions(internalTLS.DialOption())
	}
	retrieveConn, err := backend.Dial(cfg.RetrieveAddr, dialTLS, backend.RetryOnUnavailable(retrievev1.RetrieveService_ServiceDesc.ServiceName),
		backend.WithDialOptions(metrics.NewGRPCClient(reg).DialOptions()...))
	if err != nil {
		return fmt.Errorf("retrieve-svc at %s: %w", cfg.RetrieveAddr, err)
	}
	defer retrieveConn.Close()
	// The process's own memory budget: the runtime's soft limit, and what runs are admitted
	// by. Extraction runs in a child process with budgets of its own, unless turned off.
	lim := cfg.Limits
	debug.SetMemoryLimit(lim.MemoryLimit)
	var extractor equations.Extractor = equations.Builtin{}
	if lim.Isolation == "process" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("extract-isolation process: finding this binary: %w", err)
		}
		extractor = equations.Isolated{X: &extractproc.Extractor{
			Exe: exe,
			Env: []string{}, // the child needs no configuration, and gets no secret
			Limits: extractproc.Limits{
				Memory: lim.ExtractMemory, CPU: lim.ExtractCPU, Wall: lim.ExtractTimeout,
			},
			Stats: func(kind extractproc.Kind, maxRSS int64, cpu time.Duration) {
				logger.Debug("extraction child done", slog.String("kind", string(kind)),
					slog.Int64("max_rss", maxRSS), slog.Duration("cpu", cpu))
			},
		}}
	}
	eq := &equations.Runner{
		Store:        objectstore.New(retrievev1.NewRetrieveServiceClient(retrieveConn)),
		Extractor:    extractor,
		MaxSource:    lim.MaxSource,
		MaxDerived:   lim.MaxDerived,
		DerivedSlots: lim.DerivedSlots,
		Admit:        admission.New(lim.MemoryLimit),
		Logger:       logger,
	}
	if cfg.Ollama.Enabled() {
		refiner, err := ollamaRefiner(cfg.Ollama, logger)
		if err != nil {
			return err
		}
		eq.Ollama = refiner
		logger.InfoContext(ctx, "ollama backend enabled", slog.String("host", cfg.Ollama.Host),
			slog.String("model", cfg.Ollama.RefineModel()), slog.Bool("vision", cfg.Ollama.VisionModel != ""))
	}
	workflows, err := workflow.NewRegistry(echo.New(), eq)
	if err != nil {
		return fmt.Errorf("workflows: %w", err)
	}
	grpcMetrics := metrics.NewGRPCServer(reg)
	serverOpts := append(grpcMetrics.ServerOptions(), internalTLS.ServerOptions()...)
	serverOpts = append(serverOpts, grpcapp.MaxConnectionAge(cfg.MaxConnectionAge, cfg.MaxConnectionAgeGrace)...)
	app := grpcapp.NewServer(serverOpts...)
	invokev1.RegisterInvokeServiceServer(app.GRPC, invoke.NewServer(workflows, cfg.MaxConcurrent, logger,
		invoke.WithMetrics(invoke.NewMetrics(reg))))
	app.SetServing(invokev1.InvokeService_ServiceDesc.ServiceName)
	grpcMetrics.InitializeMetrics(app.GRPC)

	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.InfoContext(ctx, "listening",
		slog.String("addr", lis.Addr().String()),
		slog.Any("workflows", workflows.Names()),
		slog.Int("max_concurrent", cfg.MaxConcurrent))
	logger.DebugContext(ctx, "config", slog.Any("config", cfg))
	err = app.Serve(ctx, lis, grpcapp.ServeOptions{
		DrainTimeout: cfg.DrainTimeout,
		AdminAddr:    cfg.AdminAddr,
		AdminHandler: admin.NewHandler(reg, app.Ready, logger),
	}, logger)
	if err != nil {
		return err
	}
	return nil
}

// ollamaRefiner builds the Ollama backend of equation_extraction. With a vision model it
// asks that model and shows it each display's region of the page, rendered by poppler's
// pdftoppm; without pdftoppm on the PATH that is a start-up error, not a silent fall back
// to text.
func ollamaRefiner(o config.Ollama, logger *slog.Logger) (*ollama.Refiner, error) {
	oc, err := ollama.New(ollama.Options{Host: o.Host, Model: o.RefineModel(), APIKey: o.APIKey.Reveal()}, logger)
	if err != nil {
		return nil, fmt.Errorf("ollama: %w", err)
	}
	r := ollama.NewRefiner(oc)
	if o.VisionModel == "" {
		return r, nil
	}
	p, err := ollama.NewPoppler()
	if err != nil {
		return nil, fmt.Errorf("OLLAMA_VISION_MODEL %q: %w; install poppler-utils, or unset OLLAMA_VISION_MODEL to ask %s with text only", o.VisionModel, err, cmp.Or(o.Model, "OLLAMA_MODEL"))
	}
	return r.WithRenderer(p), nil
}
