// Package deploy holds the checks of the container deployment: the tests in this folder load
// ../docker-compose.yml with compose-go (github.com/compose-spec/compose-go/v2), as
// `docker compose config` would, and read the services' Dockerfile, so that a broken
// deployment fails `make test` on a machine with no container engine. They check structure
// and wiring (services, ports, health checks, start order, credentials, mounts, build
// contexts); they do not start containers or build images.
//
// The tests in helm_test.go and helm_contract_test.go check the Helm chart in helm/doip-gateway
// the same way, without a cluster: they render it with Helm's Go packages (helm.sh/helm/v4,
// pinned in go.mod) for the default values and a production-like file, decode every object
// into the Kubernetes API's Go types with unknown fields rejected, run helm lint, and check
// that ports, probes and environment agree with what the binaries serve and read.
//
// Two tests start a whole system natively, without a container engine (docs/deploy.md):
// TestComposeRun runs docker-compose.yml as written, on real lakeFS; TestRunScript runs
// scripts/run.sh as `make run` does. Against both, the captured requests of doipy and of
// MaRDI's client create, update, delete and search (gatewayUnderTest).
//
// The module also builds cmd/healthprobe, the health check binary every image carries.
//
// `make compose-config` runs the compose and Dockerfile checks alone, `make chart-check` the
// chart's.
package deploy
