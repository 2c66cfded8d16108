// Package deploy holds the checks of the container deployment: the tests in this folder load
// ../docker-compose.yml with compose-go (github.com/compose-spec/compose-go/v2), as
// `docker compose config` would, and read the services' Dockerfiles, so that a broken
// deployment fails `make test` on a machine with no container engine. They check structure
// and wiring (services, ports, health checks, start order, credentials, mounts, build
// contexts); they do not start containers or build images.
//
// The module also builds cmd/healthprobe, the health check binary every image carries.
//
// `make compose-config` runs the compose and Dockerfile checks alone.
package deploy
