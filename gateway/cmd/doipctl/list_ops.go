package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newListOpsCmd() *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:     "list-ops [ID]",
		Aliases: []string{"list-operations"},
		Short:   "List the operations of the service, or of one object",
		Long: `List the operations the service offers, or, given an object id, the operations and
workflows that apply to that object.`,
		Example: `  doipctl list-ops
  doipctl list-ops Q123`,
		Args: optionalID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := call{
				req: client.Request{Op: doip.OpListOps},
				std: &client.StdRequest{TargetID: service, OperationID: "0.DOIP/Op.ListOperations"},
			}
			if len(args) == 1 {
				c.req.ObjectID, c.std.TargetID = args[0], args[0]
			}
			return a.do(cmd.Context(), c)
		},
	}
	serviceFlag(cmd, &service)
	return cmd
}
