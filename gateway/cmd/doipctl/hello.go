package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newHelloCmd() *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "hello",
		Short: "Say hello: the server, its version, operations and workflows",
		Example: `  doipctl hello
  doipctl hello --host gw.example.org --tls
  doipctl --standard --insecure hello`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.do(cmd.Context(), call{
				req: client.Request{Op: doip.OpHello},
				std: &client.StdRequest{TargetID: service, OperationID: "0.DOIP/Op.Hello"},
			})
		},
	}
	serviceFlag(cmd, &service)
	return cmd
}

// serviceFlag adds --service, the target of service-level requests in standard DOIP.
func serviceFlag(cmd *cobra.Command, service *string) {
	cmd.Flags().StringVar(service, "service", "service", "with --standard: the service `ID` the request targets")
}
